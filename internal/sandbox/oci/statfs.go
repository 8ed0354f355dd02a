package oci

import "golang.org/x/sys/unix"

type unixStatfs struct{ unix.Statfs_t }

func statfs(path string, st *unixStatfs) error { return unix.Statfs(path, &st.Statfs_t) }

func (s *unixStatfs) isCgroup2() bool { return s.Type == unix.CGROUP2_SUPER_MAGIC }
