package image

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// debianMirror finds the Debian archive the host's apt uses for suite,
// reading sources.list, sources.list.d/*.list (one-line format) and
// sources.list.d/*.sources (deb822), as apt does. These hosts reach no other
// archive, so the host's own is the one that works.
func debianMirror(aptDir, suite string) (string, error) {
	var sources []aptSource
	if s, err := readOneLineSources(filepath.Join(aptDir, "sources.list")); err == nil {
		sources = append(sources, s...)
	}
	files, _ := filepath.Glob(filepath.Join(aptDir, "sources.list.d", "*"))
	sort.Strings(files)
	for _, f := range files {
		switch {
		case strings.HasSuffix(f, ".list"):
			if s, err := readOneLineSources(f); err == nil {
				sources = append(sources, s...)
			}
		case strings.HasSuffix(f, ".sources"):
			if s, err := readDeb822Sources(f); err == nil {
				sources = append(sources, s...)
			}
		}
	}
	for _, s := range sources {
		if s.suite == suite {
			return strings.TrimSuffix(s.uri, "/"), nil
		}
	}
	return "", fmt.Errorf("no apt source for Debian %s in %s: add one, or give the mirror explicitly", suite, aptDir)
}

type aptSource struct{ uri, suite string }

func readOneLineSources(path string) ([]aptSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []aptSource
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		fields := strings.Fields(line)
		if len(fields) < 3 || fields[0] != "deb" {
			continue
		}
		fields = fields[1:]
		if strings.HasPrefix(fields[0], "[") { // options: [arch=amd64 signed-by=...]
			for len(fields) > 0 && !strings.HasSuffix(fields[0], "]") {
				fields = fields[1:]
			}
			if len(fields) > 0 {
				fields = fields[1:]
			}
		}
		if len(fields) >= 2 {
			out = append(out, aptSource{uri: fields[0], suite: fields[1]})
		}
	}
	return out, sc.Err()
}

func readDeb822Sources(path string) ([]aptSource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []aptSource
	for _, para := range strings.Split(string(data), "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(para, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if strings.EqualFold(fields["enabled"], "no") || !contains(strings.Fields(fields["types"]), "deb") {
			continue
		}
		for _, uri := range strings.Fields(fields["uris"]) {
			for _, suite := range strings.Fields(fields["suites"]) {
				out = append(out, aptSource{uri: uri, suite: suite})
			}
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
