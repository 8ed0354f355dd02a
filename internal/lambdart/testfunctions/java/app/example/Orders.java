package example;

import com.amazonaws.services.lambda.runtime.Context;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

// Orders has one handler method per kind of signature a function may use.
public class Orders {
    // Order is read from the event: a public field, a setter, a nested list.
    public static class Order {
        public String id;
        private int quantity;
        public List<Line> lines;

        public void setQuantity(int quantity) {
            this.quantity = quantity;
        }
    }

    public static class Line {
        public String sku;
        public double price;
    }

    // Receipt is written with its getters.
    public static class Receipt {
        private final String orderId;
        private final double total;
        private final boolean bulk;

        Receipt(String orderId, double total, boolean bulk) {
            this.orderId = orderId;
            this.total = total;
            this.bulk = bulk;
        }

        public String getOrderId() {
            return orderId;
        }

        public double getTotal() {
            return total;
        }

        public boolean isBulk() {
            return bulk;
        }
    }

    public record Summary(String id, int lines) {}

    // Delivery has value types read from and written as strings.
    public static class Delivery {
        public java.util.UUID id;
        public java.time.LocalDate day;
        public java.net.URI callback;
    }

    public Map<String, Object> schedule(Delivery d) {
        Map<String, Object> out = new java.util.LinkedHashMap<>();
        out.put("id", d.id);
        out.put("next", d.day.plusDays(1));
        out.put("host", d.callback.getHost());
        out.put("window", java.time.Duration.ofMinutes(90));
        out.put("note", java.util.Optional.of("leave at door"));
        out.put("missing", java.util.Optional.empty());
        out.put("at", new java.util.Date(1700000000000L));
        return out;
    }

    public Receipt place(Order order, Context context) {
        double total = 0;
        for (Line l : order.lines) {
            total += l.price * order.quantity;
        }
        return new Receipt(order.id, total, order.quantity >= 10);
    }

    public Summary summarize(Order order) {
        return new Summary(order.id, order.lines.size());
    }

    public String shout(String s, Object context) {
        return s.toUpperCase() + (context == null ? " (no context)" : " (context)");
    }

    public static long twice(Long n) {
        return n * 2;
    }

    public void echo(InputStream in, OutputStream out, Context context) throws IOException {
        byte[] event = in.readAllBytes();
        out.write(("{\"bytes\":" + event.length + ",\"fn\":\"" + context.getFunctionName() + "\"}")
                .getBytes(StandardCharsets.UTF_8));
    }

    public String fail(Map<String, Object> event) {
        return check(event);
    }

    public byte[] reverse(byte[] in) {
        byte[] out = new byte[in.length];
        for (int i = 0; i < in.length; i++) {
            out[i] = in[in.length - 1 - i];
        }
        return out;
    }

    public int recurse(Integer depth) {
        return recurse(depth + 1) + 1;
    }

    private static String check(Map<String, Object> event) {
        throw new IllegalStateException("no such order: " + event.get("order"), new IllegalArgumentException("bad id"));
    }
}
