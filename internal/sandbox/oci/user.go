package oci

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

// resolveUser turns Spec.User ("uid[:gid]", "name[:group]" or "") into ids,
// looking names up in the sandbox root's /etc/passwd and /etc/group. A user
// given without a group gets the primary group from passwd, or its uid.
func resolveUser(root, user string) (uint32, uint32, error) {
	if user == "" {
		return 0, 0, nil
	}
	userPart, groupPart, hasGroup := strings.Cut(user, ":")
	uid, gid, err := lookupID(filepath.Join(root, "etc/passwd"), userPart)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: user %q: %v", sandbox.ErrInvalidSpec, userPart, err)
	}
	if hasGroup {
		gid, _, err = lookupID(filepath.Join(root, "etc/group"), groupPart)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: group %q: %v", sandbox.ErrInvalidSpec, groupPart, err)
		}
	}
	return uid, gid, nil
}

// lookupID resolves name in a passwd- or group-format file; a number is taken
// as is. It returns the id and, for passwd, the primary group (else the id).
func lookupID(file, name string) (uint32, uint32, error) {
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		id := uint32(n)
		if _, gid, err := findEntry(file, func(fields []string) bool { return fields[2] == name }); err == nil {
			return id, gid, nil
		}
		return id, id, nil
	}
	return findEntry(file, func(fields []string) bool { return fields[0] == name })
}

func findEntry(file string, match func([]string) bool) (uint32, uint32, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, fmt.Errorf("no %s in the root: %w", filepath.Base(file), err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 3 || !match(fields) {
			continue
		}
		id, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("bad id in %s: %w", filepath.Base(file), err)
		}
		gid := id
		if len(fields) >= 4 {
			if g, err := strconv.ParseUint(fields[3], 10, 32); err == nil && strings.HasSuffix(file, "passwd") {
				gid = g
			}
		}
		return uint32(id), uint32(gid), nil
	}
	return 0, 0, fmt.Errorf("not found in %s", filepath.Base(file))
}
