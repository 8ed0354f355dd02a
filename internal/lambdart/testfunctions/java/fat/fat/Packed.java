package fat;

import java.util.List;

// Packed travels in a jar at the task root, as a shaded (fat) jar does.
public class Packed {
    public int count(List<Integer> numbers) {
        return numbers.stream().mapToInt(Integer::intValue).sum();
    }
}
