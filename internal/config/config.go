// Package config holds nimbus's settings: flags, each with an environment
// variable, and defaults that make one machine work with nothing set.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Auth modes.
const (
	AuthStrict = "strict" // SigV4 verified, IAM enforced
	AuthAny    = "any"    // any key is the root principal; for drop-in test setups on loopback
)

// Default credentials accepted only while nimbus listens on loopback.
const (
	DefaultAccessKey = "test"
	DefaultSecretKey = "test"
	DefaultAccount   = "000000000000"
)

// Config is the server configuration.
type Config struct {
	Listen        string
	DataDir       string
	LogFormat     string // text or json
	LogLevel      string // debug, info, warn, error
	Region        string // default region when a request names none
	Regions       []string
	StrictRegions bool
	Auth          string
	AccountID     string
	RootAccessKey string
	RootSecretKey string
	Driver        string // sandbox driver: auto, oci, process, fake

	// EC2 capacity per region (0: the host's) and the spot interruption
	// notice period.
	EC2VCPUs       int
	EC2MemoryMiB   int
	EC2GPUs        int
	EC2SpotWarning time.Duration

	// Lambda: the account's concurrency limit, how long an idle sandbox
	// stays warm, and the first async retry's delay (AWS: 1 minute).
	LambdaConcurrency int
	LambdaKeepAlive   time.Duration
	LambdaRetryDelay  time.Duration

	regionsFlag *string
}

// DefaultDataDir is a "nimbus" folder under the user's data directory
// ($XDG_DATA_HOME, else ~/.local/share; /var/lib for root).
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "nimbus")
	}
	if os.Geteuid() == 0 {
		return "/var/lib/nimbus"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "nimbus")
	}
	return filepath.Join(os.TempDir(), "nimbus")
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// Bind registers the server flags on fs, with defaults from the environment.
func (c *Config) Bind(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", env("NIMBUS_LISTEN", "127.0.0.1:4566"), "address to serve on (NIMBUS_LISTEN)")
	fs.StringVar(&c.DataDir, "data", env("NIMBUS_DATA", DefaultDataDir()), "state and sandbox directory (NIMBUS_DATA)")
	fs.StringVar(&c.LogFormat, "log-format", env("NIMBUS_LOG_FORMAT", "text"), "log format: text or json (NIMBUS_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", env("NIMBUS_LOG_LEVEL", "info"), "log level: debug, info, warn, error (NIMBUS_LOG_LEVEL)")
	fs.StringVar(&c.Region, "region", env("NIMBUS_REGION", "us-east-1"), "default region (NIMBUS_REGION)")
	regions := env("NIMBUS_REGIONS", "")
	fs.Func("regions", "comma-separated regions DescribeRegions lists (NIMBUS_REGIONS; default: a realistic AWS list)", func(s string) error {
		regions = s
		return nil
	})
	fs.BoolVar(&c.StrictRegions, "strict-regions", env("NIMBUS_STRICT_REGIONS", "") == "true", "refuse requests for regions not in --regions (NIMBUS_STRICT_REGIONS)")
	fs.StringVar(&c.Auth, "auth", env("NIMBUS_AUTH", AuthStrict), "authentication: strict (SigV4 verified, IAM enforced) or any (any key is root; loopback only) (NIMBUS_AUTH)")
	fs.StringVar(&c.AccountID, "account-id", env("NIMBUS_ACCOUNT_ID", DefaultAccount), "root account ID used in every ARN (NIMBUS_ACCOUNT_ID)")
	fs.StringVar(&c.RootAccessKey, "root-access-key-id", env("NIMBUS_ROOT_ACCESS_KEY_ID", ""), "root access key ID (NIMBUS_ROOT_ACCESS_KEY_ID; default test on loopback)")
	fs.StringVar(&c.RootSecretKey, "root-secret-access-key", env("NIMBUS_ROOT_SECRET_ACCESS_KEY", ""), "root secret access key (NIMBUS_ROOT_SECRET_ACCESS_KEY)")
	fs.StringVar(&c.Driver, "driver", env("NIMBUS_DRIVER", "auto"), "sandbox driver: auto, oci, process or fake (NIMBUS_DRIVER)")
	c.regionsFlag = &regions
	fs.IntVar(&c.EC2VCPUs, "ec2-vcpus", envInt("NIMBUS_EC2_VCPUS", 0), "vCPUs instances may use per region; 0: 4 per host CPU (NIMBUS_EC2_VCPUS)")
	fs.IntVar(&c.EC2MemoryMiB, "ec2-memory-mib", envInt("NIMBUS_EC2_MEMORY_MIB", 0), "memory instances may use per region in MiB; 0: the host's (NIMBUS_EC2_MEMORY_MIB)")
	fs.IntVar(&c.EC2GPUs, "ec2-gpus", envInt("NIMBUS_EC2_GPUS", 0), "GPUs instances may use per region; 0: the host's (NIMBUS_EC2_GPUS)")
	fs.DurationVar(&c.EC2SpotWarning, "ec2-spot-warning", envDuration("NIMBUS_EC2_SPOT_WARNING", 2*time.Minute), "notice a spot instance gets before it is interrupted (NIMBUS_EC2_SPOT_WARNING)")
	fs.IntVar(&c.LambdaConcurrency, "lambda-concurrency", envInt("NIMBUS_LAMBDA_CONCURRENCY", 1000), "Lambda concurrent executions per account and region (NIMBUS_LAMBDA_CONCURRENCY)")
	fs.DurationVar(&c.LambdaKeepAlive, "lambda-keep-alive", envDuration("NIMBUS_LAMBDA_KEEP_ALIVE", 10*time.Minute), "how long an idle Lambda sandbox stays warm (NIMBUS_LAMBDA_KEEP_ALIVE)")
	fs.DurationVar(&c.LambdaRetryDelay, "lambda-retry-delay", envDuration("NIMBUS_LAMBDA_RETRY_DELAY", time.Minute), "delay before an async invocation's first retry; the second waits twice as long (NIMBUS_LAMBDA_RETRY_DELAY)")
}

// envInt is env for integers; a value that does not parse is left for the
// flag package to refuse when given on the command line, and ignored here.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// envDuration is env for durations such as 90s or 2m.
func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// regionsFlag is read in Finish so the environment and the flag share one path.
func (c *Config) finishRegions() {
	if c.regionsFlag == nil || *c.regionsFlag == "" {
		return
	}
	c.Regions = nil
	for _, r := range strings.Split(*c.regionsFlag, ",") {
		if r = strings.TrimSpace(r); r != "" {
			c.Regions = append(c.Regions, r)
		}
	}
}

// Finish validates the configuration after flags are parsed and fills the
// root credentials. It refuses what would be unsafe: default credentials or
// --auth any on an address other than loopback.
func (c *Config) Finish() error {
	c.finishRegions()
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, not %q", c.LogFormat)
	}
	if c.Auth != AuthStrict && c.Auth != AuthAny {
		return fmt.Errorf("--auth must be strict or any, not %q", c.Auth)
	}
	if len(c.AccountID) != 12 || strings.Trim(c.AccountID, "0123456789") != "" {
		return fmt.Errorf("--account-id must be 12 digits, not %q", c.AccountID)
	}
	loopback, err := IsLoopback(c.Listen)
	if err != nil {
		return err
	}
	if (c.RootAccessKey == "") != (c.RootSecretKey == "") {
		return errors.New("set both --root-access-key-id and --root-secret-access-key, or neither")
	}
	if c.Auth == AuthAny && !loopback {
		return fmt.Errorf("--auth any accepts every key as root and is refused on %s: listen on a loopback address (127.0.0.1) or use --auth strict", c.Listen)
	}
	if c.RootAccessKey == "" {
		if !loopback {
			return fmt.Errorf("refusing to listen on %s with the default credentials test/test: set --root-access-key-id and --root-secret-access-key (NIMBUS_ROOT_ACCESS_KEY_ID, NIMBUS_ROOT_SECRET_ACCESS_KEY) or listen on 127.0.0.1", c.Listen)
		}
		c.RootAccessKey, c.RootSecretKey = DefaultAccessKey, DefaultSecretKey
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.EC2VCPUs < 0 || c.EC2MemoryMiB < 0 || c.EC2GPUs < 0 {
		return errors.New("--ec2-vcpus, --ec2-memory-mib and --ec2-gpus cannot be negative")
	}
	// A Config built in code rather than from flags gets the defaults.
	if c.LambdaConcurrency == 0 {
		c.LambdaConcurrency = 1000
	}
	if c.LambdaKeepAlive == 0 {
		c.LambdaKeepAlive = 10 * time.Minute
	}
	if c.LambdaRetryDelay == 0 {
		c.LambdaRetryDelay = time.Minute
	}
	if c.LambdaConcurrency < 100 {
		return fmt.Errorf("--lambda-concurrency must be at least 100 (Lambda keeps 100 unreserved), not %d", c.LambdaConcurrency)
	}
	if c.LambdaKeepAlive < 0 || c.LambdaRetryDelay < 0 || c.EC2SpotWarning < 0 {
		return errors.New("--lambda-keep-alive, --lambda-retry-delay and --ec2-spot-warning cannot be negative")
	}
	return nil
}

// IsLoopback reports whether a listen address only accepts local connections.
func IsLoopback(listen string) (bool, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false, fmt.Errorf("--listen %q: %w", listen, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false, nil
	}
	return ip.IsLoopback(), nil
}
