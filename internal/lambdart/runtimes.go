package lambdart

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

// Family is a kind of runtime: what starts it and which bootstrap it uses.
type Family string

const (
	FamilyProvided Family = "provided" // the function's own bootstrap
	FamilyPython   Family = "python"
	FamilyNodeJS   Family = "nodejs"
	FamilyRuby     Family = "ruby"
	FamilyJava     Family = "java"
)

// Runtime is a Lambda runtime as this host can run it.
type Runtime struct {
	Name        string // the Lambda name, e.g. python3.11
	Family      Family
	Interpreter string // absolute path of the host's interpreter; empty for provided
	HostVersion string // the interpreter's full version, e.g. 3.11.7 or 20.20.2
	// Compiler is the javac that builds the Java bootstrap (WriteFiles);
	// empty for the other families.
	Compiler string
	// HostPaths are host directories outside /usr and the interpreter's
	// installation that the runtime reads through symlinks, so a sandbox
	// must see them too: Debian's JDKs keep their configuration
	// (conf/security/java.security) in /etc/java-N-openjdk.
	HostPaths []string
}

// Runtime names Lambda knows that nimbus cannot run (yet), and those AWS
// retired, each answered with its own message.
var (
	notShipped = regexp.MustCompile(`^(java(8\.al2|11)|dotnet(6|8|10))$`)
	retired    = regexp.MustCompile(`^(python2\.7|python3\.[678]|nodejs|nodejs4\.3(-edge)?|nodejs6\.10|nodejs8\.10|nodejs1[0246]\.x|go1\.x|ruby2\.[57]|dotnetcore\d\.\d|java8)$`)
	pythonName = regexp.MustCompile(`^python3\.(\d+)$`)
	nodeName   = regexp.MustCompile(`^nodejs(\d+)\.x$`)
	rubyName   = regexp.MustCompile(`^ruby3\.(\d+)$`)
	javaName   = regexp.MustCompile(`^java(17|21|25)$`)
)

// Catalog answers which runtimes this host can run. It probes each
// interpreter once and remembers the answer.
type Catalog struct {
	lookPath func(file string) (string, error)
	jvmDir   string // where JDKs are installed side by side (Debian's /usr/lib/jvm)

	mu      sync.Mutex
	probes  map[string]probe // by command name
	jdkList []jdk            // the host's JDKs once listed; nil before
}

type probe struct {
	path, version string
	err           error
}

// CatalogOption configures a Catalog.
type CatalogOption func(*Catalog)

// WithLookPath replaces exec.LookPath, so tests can hide or offer
// interpreters.
func WithLookPath(f func(file string) (string, error)) CatalogOption {
	return func(c *Catalog) { c.lookPath = f }
}

// WithJVMDir replaces /usr/lib/jvm as the directory of installed JDKs.
func WithJVMDir(dir string) CatalogOption {
	return func(c *Catalog) { c.jvmDir = dir }
}

// NewCatalog makes a Catalog over the host's PATH.
func NewCatalog(opts ...CatalogOption) *Catalog {
	c := &Catalog{lookPath: exec.LookPath, jvmDir: "/usr/lib/jvm", probes: make(map[string]probe)}
	for _, o := range opts {
		o(c)
	}
	return c
}

var defaultCatalog = NewCatalog()

// RuntimeFor is NewCatalog().RuntimeFor over a process-wide Catalog.
func RuntimeFor(ctx context.Context, name string) (Runtime, error) {
	return defaultCatalog.RuntimeFor(ctx, name)
}

// RuntimeFor says how this host runs the named runtime. A runtime the host
// cannot run yields an *awserr.Error: InvalidParameterValueException naming
// what to install (or that nimbus lacks it), or ValidationException for a
// name Lambda does not know.
func (c *Catalog) RuntimeFor(ctx context.Context, name string) (Runtime, error) {
	switch {
	case name == "provided" || name == "provided.al2" || name == "provided.al2023":
		return Runtime{Name: name, Family: FamilyProvided}, nil
	case retired.MatchString(name):
		return Runtime{}, awserr.New(awserr.Validation, "InvalidParameterValueException",
			"The runtime parameter of %s is no longer supported for creating or updating AWS Lambda functions. "+
				"We recommend you use a supported runtime while creating or updating functions.", name)
	case notShipped.MatchString(name):
		return Runtime{}, awserr.New(awserr.Validation, "InvalidParameterValueException",
			"The runtime parameter of %s is not supported by nimbus yet; use python3.x, nodejs*.x, ruby3.x, java17 or later, or provided.al2023.", name)
	}
	if m := pythonName.FindStringSubmatch(name); m != nil {
		return c.python(ctx, name, m[1])
	}
	if m := nodeName.FindStringSubmatch(name); m != nil {
		return c.node(ctx, name, m[1])
	}
	if rubyName.MatchString(name) {
		return c.ruby(ctx, name)
	}
	if m := javaName.FindStringSubmatch(name); m != nil {
		return c.java(ctx, name, m[1])
	}
	return Runtime{}, awserr.New(awserr.Validation, "ValidationException",
		"1 validation error detected: Value '%s' at 'runtime' failed to satisfy constraint: "+
			"Member must satisfy enum value set: [provided.al2023, provided.al2, python3.x, nodejs*.x, ruby3.x, java17, java21, java25]", name)
}

func (c *Catalog) python(ctx context.Context, name, minor string) (Runtime, error) {
	want := "3." + minor
	// python3.X is the exact interpreter where the host has several. The
	// distribution's own (Debian's /usr/bin) comes before whatever the PATH
	// finds first, which may be a shim (pyenv's) that a sandbox seeing only
	// /usr cannot run.
	for _, cmd := range []string{"/usr/bin/python" + want, "/usr/bin/python3", "python" + want, "python3"} {
		p := c.probe(ctx, cmd, "-c", `import sys; print(sys.executable); print("%d.%d.%d" % sys.version_info[:3])`)
		if p.err == nil && (p.version == want || strings.HasPrefix(p.version, want+".")) {
			return Runtime{Name: name, Family: FamilyPython, Interpreter: p.path, HostVersion: p.version}, nil
		}
	}
	have := c.describe(ctx, "python3", "python3")
	return Runtime{}, awserr.New(awserr.Validation, "InvalidParameterValueException",
		"The runtime parameter of %s needs Python %s on the nimbus host, which has %s. "+
			"Install python%s (Debian: apt-get install python%s), or choose the runtime that matches the host's python3.",
		name, want, have, want, want)
}

func (c *Catalog) node(ctx context.Context, name, major string) (Runtime, error) {
	for _, cmd := range []string{"/usr/bin/node", "node"} {
		p := c.probe(ctx, cmd, "-e", `console.log(process.execPath); console.log(process.versions.node)`)
		if p.err == nil && strings.SplitN(p.version, ".", 2)[0] == major {
			return Runtime{Name: name, Family: FamilyNodeJS, Interpreter: p.path, HostVersion: p.version}, nil
		}
	}
	have := c.describe(ctx, "node", "Node.js")
	return Runtime{}, awserr.New(awserr.Validation, "InvalidParameterValueException",
		"The runtime parameter of %s needs Node.js %s on the nimbus host, which has %s. "+
			"Install Node.js %s as `node` on the PATH, or choose the runtime that matches the host's node.",
		name, major, have, major)
}

// describe says what the host has of cmd, for error messages.
func (c *Catalog) describe(ctx context.Context, cmd, label string) string {
	c.mu.Lock()
	p, ok := c.probes[cmd]
	c.mu.Unlock()
	if !ok || p.err != nil {
		return "no usable " + cmd + " on its PATH"
	}
	return label + " " + p.version + " (" + p.path + ")"
}

// probe runs cmd with args once, expecting the interpreter's real path and
// its version on two lines.
func (c *Catalog) probe(ctx context.Context, cmd string, args ...string) probe {
	c.mu.Lock()
	p, ok := c.probes[cmd]
	c.mu.Unlock()
	if ok {
		return p
	}
	p = c.runProbe(ctx, cmd, args)
	if ctx.Err() == nil { // a cancelled probe says nothing about the host
		c.mu.Lock()
		c.probes[cmd] = p
		c.mu.Unlock()
	}
	return p
}

func (c *Catalog) runProbe(ctx context.Context, cmd string, args []string) probe {
	path, err := c.lookPath(cmd)
	if err != nil {
		return probe{err: fmt.Errorf("find %s: %w", cmd, err)}
	}
	out, err := exec.CommandContext(ctx, path, args...).Output()
	if err != nil {
		return probe{err: fmt.Errorf("probe %s: %w", path, err)}
	}
	lines := strings.Fields(string(out))
	if len(lines) != 2 {
		return probe{err: fmt.Errorf("probe %s: unexpected output %q", path, out)}
	}
	if _, err := strconv.Atoi(strings.SplitN(lines[1], ".", 2)[0]); err != nil {
		return probe{err: fmt.Errorf("probe %s: version %q: %w", path, lines[1], err)}
	}
	return probe{path: lines[0], version: lines[1]}
}
