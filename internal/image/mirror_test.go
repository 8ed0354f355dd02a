package image

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDebianMirror(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{
			name: "deb822 with security and updates",
			files: map[string]string{"sources.list.d/debian.sources": `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
`},
			want: "http://mirror.example/debian",
		},
		{
			name: "one-line with options, after a disabled deb822",
			files: map[string]string{
				"sources.list":             "# comment\ndeb-src http://src.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian/ bookworm main contrib\n",
				"sources.list.d/a.sources": "Types: deb\nURIs: http://disabled.example/debian\nSuites: bookworm\nEnabled: no\n",
			},
			want: "http://one.example/debian",
		},
		{
			name:  "ignores files apt ignores",
			files: map[string]string{"sources.list.d/x.list.disabled-by-farm": "deb http://nope.example/debian bookworm main\n"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range c.files {
				p := filepath.Join(dir, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := debianMirror(dir, "bookworm")
			if c.want == "" {
				if err == nil {
					t.Fatalf("found %q, want an error", got)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("mirror = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}
