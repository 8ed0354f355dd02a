package lambdart

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

// jdk is one Java installation the host has.
type jdk struct {
	home, version string
	configDirs    []string // see linkedConfigDirs
}

func (j jdk) major() string {
	v := strings.TrimPrefix(j.version, "1.") // 1.8.0_392 is Java 8
	return strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == '_' || r == '+' || r == '-' })[0]
}

// java serves javaN with a JVM of major version N: one of the JDKs in the
// JVM directory (Debian installs them side by side there) or the java on
// the PATH. The bootstrap is compiled by that JDK's javac, or failing one,
// by the javac on the PATH, targeting Java 17.
func (c *Catalog) java(ctx context.Context, name, major string) (Runtime, error) {
	jdks := c.jdks()
	for _, j := range jdks {
		if j.major() != major {
			continue
		}
		javac := filepath.Join(j.home, "bin", "javac")
		if !isExecutable(javac) {
			if p, err := c.lookPath("javac"); err == nil {
				javac, _ = filepath.EvalSymlinks(p)
			} else {
				javac = ""
			}
		}
		if javac == "" {
			return Runtime{}, awserr.New(awserr.Validation, "InvalidParameterValueException",
				"The runtime parameter of %s needs a javac on the nimbus host to build nimbus's Java bootstrap once; "+
					"%s has only a JRE. Install a JDK (Debian: apt-get install openjdk-%s-jdk-headless).", name, j.home, major)
		}
		return Runtime{Name: name, Family: FamilyJava, Interpreter: filepath.Join(j.home, "bin", "java"),
			HostVersion: j.version, Compiler: javac, HostPaths: slices.Clone(j.configDirs)}, nil
	}
	have := "no Java"
	if len(jdks) > 0 {
		var names []string
		for _, j := range jdks {
			names = append(names, "Java "+j.version+" ("+j.home+")")
		}
		have = strings.Join(names, ", ")
	}
	return Runtime{}, awserr.New(awserr.Validation, "InvalidParameterValueException",
		"The runtime parameter of %s needs Java %s on the nimbus host, which has %s. "+
			"Install a JDK %s (Debian: apt-get install openjdk-%s-jdk-headless) under %s or as `java` on the PATH, "+
			"or choose the runtime that matches the host's Java.",
		name, major, have, major, major, c.jvmDir)
}

// jdks lists the host's Java installations, each once however many
// symlinks name it: those in the JVM directory, then the PATH's java.
// Each one's version is read from its release file, which costs
// microseconds where starting a JVM to ask would cost a tenth of a second.
// The list is made once per Catalog, as the interpreters' probes are.
func (c *Catalog) jdks() []jdk {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.jdkList == nil {
		c.jdkList = c.findJDKs()
	}
	return c.jdkList
}

func (c *Catalog) findJDKs() []jdk {
	var homes []string
	if entries, err := os.ReadDir(c.jvmDir); err == nil {
		for _, e := range entries {
			homes = append(homes, filepath.Join(c.jvmDir, e.Name()))
		}
	}
	if p, err := c.lookPath("java"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			homes = append(homes, filepath.Dir(filepath.Dir(real)))
		}
	}
	out := []jdk{} // non-nil: found, even if empty
	seen := map[string]bool{}
	for _, h := range homes {
		real, err := filepath.EvalSymlinks(h)
		if err != nil || seen[real] || !isExecutable(filepath.Join(real, "bin", "java")) {
			continue
		}
		seen[real] = true
		if v := releaseVersion(filepath.Join(real, "release")); v != "" {
			out = append(out, jdk{home: real, version: v, configDirs: linkedConfigDirs(real)})
		}
	}
	return out
}

// linkedConfigDirs are the directories outside /usr and home that the
// JDK's configuration links into (conf/ and lib/security/ hold them): as
// /etc/java-17-openjdk and /etc/ssl for Debian's cacerts. Each is named by
// its first two path elements, the package's directory under /etc.
func linkedConfigDirs(home string) []string {
	var dirs []string
	for _, sub := range []string{"conf", filepath.Join("lib", "security")} {
		_ = filepath.WalkDir(filepath.Join(home, sub), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return nil // a JDK without the directory links nothing from it
			}
			target, err := filepath.EvalSymlinks(path)
			if err != nil || strings.HasPrefix(target, "/usr/") || strings.HasPrefix(target, home+"/") {
				return nil
			}
			parts := strings.SplitN(strings.TrimPrefix(target, "/"), "/", 3)
			if len(parts) < 3 {
				return nil // a file directly under / or /etc: no directory to share
			}
			if dir := "/" + parts[0] + "/" + parts[1]; !slices.Contains(dirs, dir) {
				dirs = append(dirs, dir)
			}
			return nil
		})
	}
	slices.Sort(dirs)
	return dirs
}

// releaseVersion is JAVA_VERSION from a JDK's release file; "" when unknown.
func releaseVersion(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "JAVA_VERSION="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// javaCompileTimeout bounds javac on a loaded host (seconds when idle).
const javaCompileTimeout = 3 * time.Minute

// javaStampFile records what built the classes in a Java runtime directory.
const javaStampFile = ".nimbus-compiled"

// compileJavaBootstrap compiles NimbusBootstrap.java in dir unless the
// classes there were built from the same source by the same javac: a
// nimbus restart finds them under its data directory and starts at once.
func (r Runtime) compileJavaBootstrap(dir string) error {
	sum := sha256.Sum256(javaBootstrap)
	stamp := hex.EncodeToString(sum[:]) + " " + r.Compiler + "\n"
	stampPath := filepath.Join(dir, javaStampFile)
	if got, err := os.ReadFile(stampPath); err == nil && string(got) == stamp {
		if _, err := os.Stat(filepath.Join(dir, "NimbusBootstrap.class")); err == nil {
			return nil
		}
	}
	if r.Compiler == "" {
		return fmt.Errorf("compile %s bootstrap: no javac", r.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), javaCompileTimeout)
	defer cancel()
	// The classes are the runtime's own: built before the stamp says so,
	// and over older ones only once javac succeeded.
	build, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return fmt.Errorf("compile %s bootstrap: %w", r.Name, err)
	}
	defer os.RemoveAll(build)
	// String concatenation compiled inline rather than through
	// invokedynamic, whose first use costs a cold start tens of
	// milliseconds of method-handle spinning.
	cmd := exec.CommandContext(ctx, r.Compiler, "--release", "17", "-encoding", "UTF-8", "-nowarn", "-XDstringConcat=inline",
		"-d", build, filepath.Join(dir, "NimbusBootstrap.java"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("compile %s bootstrap with %s: %w\n%s", r.Name, r.Compiler, err, out)
	}
	classes, err := filepath.Glob(filepath.Join(build, "*.class"))
	if err != nil || len(classes) == 0 {
		return fmt.Errorf("compile %s bootstrap: javac wrote no classes (%v)", r.Name, err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "NimbusBootstrap*.class"))
	for _, p := range old {
		if !slices.Contains(classes, filepath.Join(build, filepath.Base(p))) {
			_ = os.Remove(p) // a class the new source no longer has
		}
	}
	for _, p := range classes {
		if err := os.Rename(p, filepath.Join(dir, filepath.Base(p))); err != nil {
			return fmt.Errorf("compile %s bootstrap: %w", r.Name, err)
		}
		if err := os.Chmod(filepath.Join(dir, filepath.Base(p)), 0o644); err != nil {
			return fmt.Errorf("compile %s bootstrap: %w", r.Name, err)
		}
	}
	if err := os.WriteFile(stampPath, []byte(stamp), 0o644); err != nil {
		return fmt.Errorf("compile %s bootstrap: %w", r.Name, err)
	}
	return nil
}
