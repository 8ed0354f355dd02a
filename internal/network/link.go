package network

import (
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// deleteLink removes a network device by name over rtnetlink; a device
// that does not exist is not an error.
func deleteLink(name string) error {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return fmt.Errorf("dial rtnetlink: %w", err)
	}
	defer c.Close()
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, name)
	attrs, err := ae.Encode()
	if err != nil {
		return fmt.Errorf("encode link %s: %w", name, err)
	}
	ifinfo := make([]byte, unix.SizeofIfInfomsg) // family, type, index, flags, change: all zero
	_, err = c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_DELLINK, Flags: netlink.Request | netlink.Acknowledge},
		Data:   append(ifinfo, attrs...),
	})
	if err != nil {
		var oe *netlink.OpError
		if errors.As(err, &oe) && (errors.Is(oe.Err, unix.ENODEV) || errors.Is(oe.Err, unix.ENOENT)) {
			return nil
		}
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}
