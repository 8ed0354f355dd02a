package lambdart

import (
	"context"
	"log/slog"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

// ruby serves any ruby3.X with the host's Ruby 3: AWS names only recent
// minors (ruby3.2 and later) while Debian 12 ships 3.1, so an exact match is
// rarely possible, and Ruby keeps its 3.x language compatible enough that a
// function written for 3.3 usually runs on 3.1. The version that really
// runs is in HostVersion, and logged.
func (c *Catalog) ruby(ctx context.Context, name string) (Runtime, error) {
	for _, cmd := range []string{"/usr/bin/ruby", "ruby"} {
		p := c.probe(ctx, cmd, "-e", `puts RbConfig.ruby; puts RUBY_VERSION`)
		if p.err == nil && strings.HasPrefix(p.version, "3.") {
			if want := strings.TrimPrefix(name, "ruby"); p.version != want && !strings.HasPrefix(p.version, want+".") {
				slog.DebugContext(ctx, "lambda runtime runs on the host's Ruby, not the one it names",
					"runtime", name, "ruby", p.version, "interpreter", p.path)
			}
			return Runtime{Name: name, Family: FamilyRuby, Interpreter: p.path, HostVersion: p.version}, nil
		}
	}
	have := c.describe(ctx, "ruby", "Ruby")
	return Runtime{}, awserr.New(awserr.Validation, "InvalidParameterValueException",
		"The runtime parameter of %s needs Ruby 3 on the nimbus host, which has %s. "+
			"Install it (Debian: apt-get install ruby); nimbus runs every ruby3.x on the host's Ruby 3.",
		name, have)
}
