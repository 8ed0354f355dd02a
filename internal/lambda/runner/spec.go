package runner

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/nimbus-dev/nimbus/internal/lambdart"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// Labels a Lambda sandbox carries beside its owner's.
const (
	LabelFunction = "nimbus.lambda.function"
	LabelVersion  = "nimbus.lambda.version"
	LabelRevision = "nimbus.lambda.revision"
)

// mbPerVCPU is the memory size at which Lambda gives a function one full
// vCPU; CPU scales linearly with memory.
const mbPerVCPU = 1769

// Lambda's values for the environment a runtime inherits (the AL2023 base
// images'): a function may override these.
const (
	lambdaPath          = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
	lambdaLDLibraryPath = "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)

// lambdaDefaults is the environment a runtime inherits before the
// function's own variables.
func lambdaDefaults() map[string]string {
	return map[string]string{
		"TZ":              ":UTC",
		"LANG":            "en_US.UTF-8",
		"PATH":            lambdaPath,
		"LD_LIBRARY_PATH": lambdaLDLibraryPath,
	}
}

// milliCPU is the CPU share of a memory size.
func milliCPU(memoryMB int) int64 {
	return max(int64(memoryMB)*1000/mbPerVCPU, 10)
}

// environ is the runtime's environment: Lambda's defaults, then the
// function's own variables, then the variables Lambda reserves (which a
// function cannot set).
func environ(fn *Function, rt lambdart.Runtime, apiAddr, stream string, creds *Credentials, endpoint string) []string {
	env := lambdaDefaults()
	if endpoint != "" {
		env["AWS_ENDPOINT_URL"] = endpoint // a function may point elsewhere
	}
	maps.Copy(env, fn.Environment)
	reserved := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     fn.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fn.MemoryMB),
		"AWS_REGION":                      fn.Region,
		"AWS_DEFAULT_REGION":              fn.Region,
		"AWS_LAMBDA_RUNTIME_API":          apiAddr,
		"AWS_LAMBDA_LOG_GROUP_NAME":       fn.LogGroup,
		"AWS_LAMBDA_LOG_STREAM_NAME":      stream,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"LAMBDA_TASK_ROOT":                taskRoot,
		"LAMBDA_RUNTIME_DIR":              runtimeDir,
		"_HANDLER":                        fn.Handler,
	}
	if c := creds; c != nil {
		reserved["AWS_ACCESS_KEY_ID"] = c.AccessKeyID
		reserved["AWS_SECRET_ACCESS_KEY"] = c.SecretAccessKey
		reserved["AWS_SESSION_TOKEN"] = c.SessionToken
	}
	// Lambda sets AWS_EXECUTION_ENV for its managed runtimes only.
	if rt.Family != "" && rt.Family != lambdart.FamilyProvided {
		reserved["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + rt.Name
	}
	maps.Copy(env, reserved)
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// runSpec is the substrate spec of a new sandbox of fn.
func (p *Pool) runSpec(ctx context.Context, fn *Function, env *environment, apiAddr string) (substrate.RunSpec, error) {
	rs := substrate.RunSpec{
		ID:    env.id,
		Owner: substrate.Owner{Kind: OwnerKind, Account: fn.Account, Region: fn.Region, ResourceID: fn.ARN},
		Labels: map[string]string{
			LabelFunction: fn.Name, LabelVersion: fn.Version, LabelRevision: fn.Revision,
		},
		ReadOnlyRoot: true,
		User:         sandboxUser,
		Hostname:     "169.254.0.1", // Lambda's hostnames are addresses too
		MilliCPU:     milliCPU(fn.MemoryMB),
		MemoryBytes:  int64(fn.MemoryMB) << 20,
		PidsLimit:    1024, // Lambda's process and thread limit
		Network:      p.netName,
		Mounts:       []substrate.Mount{{Type: substrate.MountTmpfs, Destination: "/tmp", SizeBytes: int64(max(fn.EphemeralMB, 512)) << 20}},
	}
	var creds *Credentials
	if fn.Credentials != nil {
		var err error
		if creds, err = fn.Credentials(ctx); err != nil {
			return rs, fmt.Errorf("execution role credentials: %w", err)
		}
	}
	if fn.ImageURI != "" {
		img, err := p.host.Images().Get(ctx, fn.ImageURI)
		if err != nil {
			return rs, fmt.Errorf("image %s: %w", fn.ImageURI, err)
		}
		entry, cmd := img.Config.Entrypoint, img.Config.Cmd
		if len(fn.ImageEntryPoint) > 0 {
			entry = fn.ImageEntryPoint
		}
		if len(fn.ImageCommand) > 0 {
			cmd = fn.ImageCommand
		}
		rs.Image = fn.ImageURI
		rs.Command = slices.Concat(entry, cmd)
		rs.WorkDir = fn.ImageWorkDir
		rs.Env = environ(fn, lambdart.Runtime{}, apiAddr, env.stream, creds, p.awsEndpoint(env.proxied))
		return rs, nil
	}
	rt, err := p.opts.Runtimes.RuntimeFor(ctx, fn.Runtime)
	if err != nil {
		return rs, fmt.Errorf("runtime %s: %w", fn.Runtime, err)
	}
	if fn.CodeDir == "" {
		return rs, fmt.Errorf("function %s has neither code nor an image", fn.Name)
	}
	mounts, err := p.root.runtimeMounts(rt)
	if err != nil {
		return rs, err
	}
	rs.RootDir = p.root.dir
	rs.Command = rt.Command(runtimeDir, taskRoot)
	rs.WorkDir = taskRoot
	rs.Env = environ(fn, rt, apiAddr, env.stream, creds, p.awsEndpoint(env.proxied))
	rs.Mounts = slices.Concat(p.root.mounts, mounts, rs.Mounts,
		[]substrate.Mount{{Type: substrate.MountBind, Source: fn.CodeDir, Destination: taskRoot, ReadOnly: true}})
	if p.driver == substrate.DriverProcess {
		// A host process sees the host's paths: the code and bootstrap
		// are where the host keeps them.
		rs, err = processSpec(rs, rt, fn)
	}
	return rs, err
}

// processSpec rewrites a spec for the process driver, which has no mount
// namespace: the runtime is started from the host's paths.
func processSpec(rs substrate.RunSpec, rt lambdart.Runtime, fn *Function) (substrate.RunSpec, error) {
	var rtDir string
	for _, m := range rs.Mounts {
		if m.Destination == runtimeDir {
			rtDir = m.Source
		}
	}
	rs.Command = rt.Command(rtDir, fn.CodeDir)
	rs.WorkDir = fn.CodeDir
	rs.User = ""
	rs.Mounts = nil
	// Nor can it enforce limits; it would warn at every cold start.
	rs.MilliCPU, rs.MemoryBytes, rs.PidsLimit = 0, 0, 0
	rs.ReadOnlyRoot = false
	for i, kv := range rs.Env {
		switch {
		case kv == "LAMBDA_TASK_ROOT="+taskRoot:
			rs.Env[i] = "LAMBDA_TASK_ROOT=" + fn.CodeDir
		case kv == "LAMBDA_RUNTIME_DIR="+runtimeDir && rtDir != "":
			rs.Env[i] = "LAMBDA_RUNTIME_DIR=" + rtDir
		}
	}
	return rs, nil
}
