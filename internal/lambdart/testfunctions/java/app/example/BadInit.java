package example;

// BadInit fails while its class initializes, as a function missing its
// configuration does.
public class BadInit {
    static final String TABLE = table();

    private static String table() {
        throw new IllegalStateException("no config: TABLE_NAME unset");
    }

    public String handleRequest(Object event) {
        return TABLE;
    }
}
