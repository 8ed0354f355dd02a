package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// addLoginUser makes an image's login user as cloud-init does on AWS's
// Debian AMIs: a UID from 1000, its own group, the adm and sudo groups, a
// home from /etc/skel, bash, a locked password (keys only) and passwordless
// sudo. Instances get the key pair in its authorized_keys at boot.
//
// It edits the account files itself rather than running useradd in a
// chroot: the result is the same lines, and nothing of the image runs on
// the host.
func addLoginUser(root, user string) error {
	uid, err := freeID(filepath.Join(root, "etc/passwd"), filepath.Join(root, "etc/group"))
	if err != nil {
		return fmt.Errorf("add user %s: %w", user, err)
	}
	id := strconv.Itoa(uid)
	home := "/home/" + user
	days := strconv.FormatInt(time.Now().Unix()/86400, 10)
	edits := []struct {
		file string
		mode fs.FileMode
		edit func([]string) []string
	}{
		{"etc/passwd", 0o644, appendLine(user + ":x:" + id + ":" + id + ":Debian:" + home + ":/bin/bash")},
		{"etc/shadow", 0o640, appendLine(user + ":!:" + days + ":0:99999:7:::")},
		{"etc/group", 0o644, chain(addMember("adm", user, 3), addMember("sudo", user, 3), appendLine(user+":x:"+id+":"))},
		{"etc/gshadow", 0o640, chain(addMember("adm", user, 3), addMember("sudo", user, 3), appendLine(user+":!::"))},
	}
	for _, e := range edits {
		if err := editLines(filepath.Join(root, e.file), e.mode, e.edit); err != nil {
			return fmt.Errorf("add user %s: %w", user, err)
		}
	}
	if err := copySkel(filepath.Join(root, "etc/skel"), filepath.Join(root, home), uid); err != nil {
		return fmt.Errorf("add user %s: home: %w", user, err)
	}
	rule := user + " ALL=(ALL) NOPASSWD:ALL\n"
	if err := os.MkdirAll(filepath.Join(root, "etc/sudoers.d"), 0o755); err != nil {
		return fmt.Errorf("add user %s: %w", user, err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/sudoers.d/90-cloud-init-users"), []byte(rule), 0o440); err != nil {
		return fmt.Errorf("add user %s: sudo rule: %w", user, err)
	}
	return nil
}

// freeID is the first UID from 1000 that no user has and no group has as
// its GID, so the user's own group gets the same number.
func freeID(passwd, group string) (int, error) {
	taken := map[int]bool{}
	for _, f := range []string{passwd, group} {
		raw, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if fields := strings.Split(line, ":"); len(fields) > 2 {
				if n, err := strconv.Atoi(fields[2]); err == nil {
					taken[n] = true
				}
			}
		}
	}
	for id := 1000; id < 60000; id++ {
		if !taken[id] {
			return id, nil
		}
	}
	return 0, errors.New("no free UID between 1000 and 60000")
}

func appendLine(line string) func([]string) []string {
	return func(lines []string) []string { return append(lines, line) }
}

// addMember adds user to the members (field memberField) of group's line.
func addMember(group, user string, memberField int) func([]string) []string {
	return func(lines []string) []string {
		for i, line := range lines {
			fields := strings.Split(line, ":")
			if fields[0] != group || len(fields) <= memberField {
				continue
			}
			if fields[memberField] == "" {
				fields[memberField] = user
			} else {
				fields[memberField] += "," + user
			}
			lines[i] = strings.Join(fields, ":")
		}
		return lines
	}
}

func chain(fns ...func([]string) []string) func([]string) []string {
	return func(lines []string) []string {
		for _, f := range fns {
			lines = f(lines)
		}
		return lines
	}
}

// editLines rewrites a text file line by line, keeping its mode and owner
// when it exists (mode is for a new one).
func editLines(path string, mode fs.FileMode, edit func([]string) []string) error {
	raw, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	var lines []string
	if text := strings.TrimRight(string(raw), "\n"); text != "" {
		lines = strings.Split(text, "\n")
	}
	lines = edit(lines)
	tmp := path + ".nimbus-new"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), mode); err != nil {
		return err
	}
	if fi, err := os.Stat(path); err == nil {
		if err := copyOwner(fi, tmp); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	return os.Rename(tmp, path)
}

// copySkel makes home from the skeleton directory (which may be missing),
// owned by uid, mode 0700 as Debian 12's useradd makes homes.
func copySkel(skel, home string, uid int) error {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(home, 0o700); err != nil {
		return err
	}
	err := filepath.WalkDir(skel, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == skel {
				return fs.SkipAll
			}
			return err
		}
		rel, _ := filepath.Rel(skel, path)
		if rel == "." {
			return nil
		}
		dst := filepath.Join(home, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(dst, info.Mode().Perm()); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return nil // skeletons hold plain files; anything else is skipped
		}
		return os.Lchown(dst, uid, uid)
	})
	if err != nil {
		return err
	}
	return os.Lchown(home, uid, uid)
}

// copyOwner gives path the owner of the file fi describes.
func copyOwner(fi fs.FileInfo, path string) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return os.Lchown(path, int(st.Uid), int(st.Gid))
}
