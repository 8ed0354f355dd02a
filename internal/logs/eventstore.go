package logs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// eventStore holds every log group's events, one directory per group under
// root, named by the group's storage ID (not its name: a group deleted and
// created again starts empty even if the old directory is still being
// removed). Group logs are opened on first use.
type eventStore struct {
	root string
	log  *slog.Logger

	mu     sync.Mutex
	groups map[string]*groupLog
	closed bool
}

func newEventStore(root string, log *slog.Logger) *eventStore {
	return &eventStore{root: root, log: log, groups: map[string]*groupLog{}}
}

// group returns the open log of a group, loading it from disk on first use.
func (s *eventStore) group(id string) (*groupLog, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errLogClosed
	}
	if g := s.groups[id]; g != nil {
		return g, nil
	}
	g, err := openGroupLog(filepath.Join(s.root, id), s.log.With("log_group_storage", id))
	if err != nil {
		return nil, fmt.Errorf("open log group storage %s: %w", id, err)
	}
	s.groups[id] = g
	return g, nil
}

// remove closes a group's log and deletes its events.
func (s *eventStore) remove(id string) error {
	s.mu.Lock()
	g := s.groups[id]
	delete(s.groups, id)
	s.mu.Unlock()
	var err error
	if g != nil {
		err = g.close()
	}
	if rerr := os.RemoveAll(filepath.Join(s.root, id)); rerr != nil {
		err = errors.Join(err, fmt.Errorf("remove log group storage: %w", rerr))
	}
	return err
}

// removeOrphans deletes the directories of groups that no longer exist (a
// crash between deleting a group and removing its events leaves one).
// live must hold every group ID created before removeOrphans was called.
func (s *eventStore) removeOrphans(dirs []string, live map[string]bool) error {
	var errs []error
	for _, id := range dirs {
		if !live[id] {
			if err := s.remove(id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// dirs lists the group directories on disk.
func (s *eventStore) dirs() ([]string, error) {
	ents, err := os.ReadDir(s.root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list log group storage: %w", err)
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// removeAll deletes every group's events (/_nimbus/reset).
func (s *eventStore) removeAll() error {
	s.mu.Lock()
	groups := s.groups
	s.groups = map[string]*groupLog{}
	s.mu.Unlock()
	var errs []error
	for _, g := range groups {
		errs = append(errs, g.close())
	}
	if err := os.RemoveAll(s.root); err != nil {
		errs = append(errs, fmt.Errorf("remove log storage: %w", err))
	}
	return errors.Join(errs...)
}

// close releases every open group log.
func (s *eventStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var errs []error
	for id, g := range s.groups {
		errs = append(errs, g.close())
		delete(s.groups, id)
	}
	return errors.Join(errs...)
}

// storedBytes is the size of a group's segments, read from the open log or,
// for a group not loaded since the restart, from the files.
func (s *eventStore) storedBytes(id string) int64 {
	s.mu.Lock()
	g := s.groups[id]
	s.mu.Unlock()
	if g != nil {
		return g.storedBytes()
	}
	ents, err := os.ReadDir(filepath.Join(s.root, id))
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

// exists reports whether a group has stored events, without loading them.
func (s *eventStore) exists(id string) bool {
	s.mu.Lock()
	g := s.groups[id]
	s.mu.Unlock()
	if g != nil {
		return true
	}
	_, err := os.Stat(filepath.Join(s.root, id))
	return err == nil
}
