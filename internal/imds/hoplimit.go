package imds

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"syscall"
)

// EC2 enforces HttpPutResponseHopLimit at layer 3: the token response
// leaves with that IP TTL, so a process one routing hop further away (a
// container behind NAT inside the instance, with the default limit of 1)
// never receives it. An http.Handler cannot set a packet's TTL, but it can
// take over the connection: writeTokenResponse hijacks it, sets IP_TTL (or
// the IPv6 unicast hop limit) on the socket, writes the response itself and
// closes the connection. Where the ResponseWriter cannot be hijacked
// (HTTP/2, httptest.ResponseRecorder) the token is written normally and the
// hop limit is not enforced.
func writeTokenResponse(w http.ResponseWriter, token string, ttl, hopLimit int) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		writePlainToken(w, token, ttl)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		writePlainToken(w, token, ttl)
		return
	}
	defer conn.Close()
	if err := setHopLimit(conn, hopLimit); err != nil {
		// Refuse rather than hand a token further than the instance allows.
		writeRaw(buf, http.StatusInternalServerError, "text/plain", "", "cannot set the response hop limit")
		return
	}
	writeRaw(buf, http.StatusOK, "text/plain", strconv.Itoa(ttl), token)
}

func writePlainToken(w http.ResponseWriter, token string, ttl int) {
	w.Header().Set(HeaderTokenTTL, strconv.Itoa(ttl))
	writeText(w, []byte(token))
}

// writeRaw writes a whole HTTP/1.1 response on a hijacked connection.
func writeRaw(buf *bufio.ReadWriter, status int, contentType, ttl, body string) {
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	fmt.Fprintf(buf, "Content-Type: %s\r\nContent-Length: %d\r\nServer: %s\r\nConnection: close\r\n", contentType, len(body), serverName)
	if ttl != "" {
		fmt.Fprintf(buf, "%s: %s\r\n", http.CanonicalHeaderKey(HeaderTokenTTL), ttl)
	}
	buf.WriteString("\r\n")
	buf.WriteString(body)
	buf.Flush()
}

func setHopLimit(conn net.Conn, hops int) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return errors.New("connection has no socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("hop limit: %w", err)
	}
	v6 := false
	if a, ok := conn.LocalAddr().(*net.TCPAddr); ok && a.IP.To4() == nil {
		v6 = true
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		if v6 {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_UNICAST_HOPS, hops)
			return
		}
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TTL, hops)
	})
	if err = errors.Join(err, serr); err != nil {
		return fmt.Errorf("hop limit %d: %w", hops, err)
	}
	return nil
}
