package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/lambdart"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

const (
	packageZip   = "Zip"
	packageImage = "Image"

	defaultMemory    = 128
	defaultTimeout   = 3
	defaultEphemeral = 512
	maxTimeout       = 900
	maxEnvironment   = 4096
)

func (a *API) registerFunctions(svc *service.Service) {
	svc.Handle("CreateFunction", service.Op(a.createFunction))
	svc.Handle("GetFunction", service.Op(a.getFunction))
	svc.Handle("GetFunctionConfiguration", service.Op(a.getFunctionConfiguration))
	svc.Handle("ListFunctions", service.Op(a.listFunctions))
	svc.Handle("UpdateFunctionCode", service.Op(a.updateFunctionCode))
	svc.Handle("UpdateFunctionConfiguration", service.Op(a.updateFunctionConfiguration))
	svc.Handle("DeleteFunction", service.Op(a.deleteFunction))
}

type functionCode struct {
	ZipFile  []byte
	S3Bucket string
	S3Key    string
	ImageUri string
}

type environment struct {
	Variables map[string]string
}

type ephemeralStorage struct {
	Size int
}

type loggingConfig struct {
	LogFormat string
	LogGroup  string
}

type createFunctionInput struct {
	FunctionName     string
	Runtime          string
	Role             string
	Handler          string
	Code             *functionCode
	Description      string
	Timeout          *int
	MemorySize       *int
	Publish          bool
	PackageType      string
	Environment      *environment
	Tags             map[string]string
	ImageConfig      *imageConfig
	Architectures    []string
	EphemeralStorage *ephemeralStorage
	LoggingConfig    *loggingConfig
}

func (a *API) createFunction(ctx context.Context, in *createFunctionInput) (*functionConfiguration, error) {
	account, region := partition(ctx)
	if !functionNamePattern.MatchString(in.FunctionName) {
		return nil, errValidation(in.FunctionName, "functionName", "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+")
	}
	if err := checkRole(in.Role); err != nil {
		return nil, err
	}
	now := a.now()
	v := versionRecord{
		Version: latest, Description: in.Description, PackageType: in.PackageType, Role: in.Role,
		MemorySize: defaultMemory, Timeout: defaultTimeout, Ephemeral: defaultEphemeral, Arch: "x86_64",
		LogFormat: "Text", LogGroup: "/aws/lambda/" + in.FunctionName,
		RevisionID: newRevisionID(), ConfigRevision: newRevisionID(), LastModified: now,
		PendingUntil: now.Add(a.settle),
	}
	if v.PackageType == "" {
		v.PackageType = packageZip
	}
	if err := a.applySettings(ctx, &v, settings{Runtime: in.Runtime, Handler: in.Handler, Timeout: in.Timeout,
		MemorySize: in.MemorySize, Environment: in.Environment, EphemeralStorage: in.EphemeralStorage,
		ImageConfig: in.ImageConfig, LoggingConfig: in.LoggingConfig}); err != nil {
		return nil, err
	}
	if len(in.Architectures) > 0 {
		v.Arch = in.Architectures[0]
	}
	if err := a.applyCode(ctx, &v, in.Code); err != nil {
		return nil, err
	}
	if v.PackageType == packageZip && (v.Runtime == "" || v.Handler == "") {
		return nil, errInvalidParameter("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
	}
	f := &functionRecord{Name: in.FunctionName, Latest: v, Tags: in.Tags}
	if in.Publish {
		f.publish(in.Description, now)
	}
	key := a.functionKey(account, region, in.FunctionName)
	err := a.store.Update(ctx, func(tx store.Tx) error {
		if err := a.checkTotalCodeSize(tx, account, region, v.CodeSize); err != nil {
			return err
		}
		_, err := tx.Create(key, f)
		return err
	})
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return nil, errConflict("Function already exist: %s", in.FunctionName)
	case err != nil:
		return nil, storeError(err, "create function %s", in.FunctionName)
	}
	a.prepareRuntime(f.Latest.Runtime)
	if in.Publish {
		return a.configuration(account, region, f, &f.Versions[0]), nil
	}
	return a.configuration(account, region, f, &f.Latest), nil
}

// prepareRuntime has the invoker ready a runtime's files in the
// background, so a function's first cold start does not wait for them.
func (a *API) prepareRuntime(runtime string) {
	if a.preparer != nil && runtime != "" {
		a.preparer.PrepareRuntime(runtime)
	}
}

// settings are the configuration members CreateFunction and
// UpdateFunctionConfiguration share; nil or empty means unchanged.
type settings struct {
	Runtime, Handler    string
	Timeout, MemorySize *int
	Environment         *environment
	EphemeralStorage    *ephemeralStorage
	ImageConfig         *imageConfig
	LoggingConfig       *loggingConfig
}

// applySettings validates s and writes it into v.
func (a *API) applySettings(ctx context.Context, v *versionRecord, s settings) error {
	if s.Runtime != "" {
		if v.PackageType == packageImage {
			return errInvalidParameter("Runtime and Handler are not supported for functions with package type Image.")
		}
		if _, err := lambdart.RuntimeFor(ctx, s.Runtime); err != nil {
			return err
		}
		v.Runtime = s.Runtime
	}
	if s.Handler != "" {
		v.Handler = s.Handler
	}
	if s.Timeout != nil {
		if *s.Timeout < 1 || *s.Timeout > maxTimeout {
			return errValidation(*s.Timeout, "timeout", fmt.Sprintf("Member must have value less than or equal to %d", maxTimeout))
		}
		v.Timeout = *s.Timeout
	}
	if s.MemorySize != nil {
		if *s.MemorySize < 128 || *s.MemorySize > 10240 {
			return errValidation(*s.MemorySize, "memorySize", "Member must have value less than or equal to 10240")
		}
		v.MemorySize = *s.MemorySize
	}
	if s.EphemeralStorage != nil {
		if s.EphemeralStorage.Size < 512 || s.EphemeralStorage.Size > 10240 {
			return errValidation(s.EphemeralStorage.Size, "ephemeralStorage.size", "Member must have value less than or equal to 10240")
		}
		v.Ephemeral = s.EphemeralStorage.Size
	}
	if s.Environment != nil {
		raw, _ := json.Marshal(s.Environment.Variables)
		if len(s.Environment.Variables) > 0 && len(raw) > maxEnvironment {
			return errInvalidParameter("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %s", raw)
		}
		for name := range s.Environment.Variables {
			if reservedEnvironment[name] {
				return errInvalidParameter("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", name)
			}
		}
		v.Environment = s.Environment.Variables
	}
	if s.ImageConfig != nil {
		v.ImageConfig = s.ImageConfig
	}
	if s.LoggingConfig != nil {
		if s.LoggingConfig.LogFormat != "" {
			v.LogFormat = s.LoggingConfig.LogFormat
		}
		if s.LoggingConfig.LogGroup != "" {
			v.LogGroup = s.LoggingConfig.LogGroup
		}
	}
	return nil
}

// reservedEnvironment are the variables Lambda sets and refuses to let a
// function override.
var reservedEnvironment = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_DEFAULT_REGION": true, "AWS_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true, "AWS_LAMBDA_LOG_GROUP_NAME": true,
	"AWS_LAMBDA_LOG_STREAM_NAME": true, "AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true,
	"AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true, "AWS_LAMBDA_RUNTIME_API": true,
	"LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true,
}

// applyCode stores the package code names and points v at it.
func (a *API) applyCode(ctx context.Context, v *versionRecord, code *functionCode) error {
	if code == nil {
		return errInvalidParameter("Please provide a source for function code.")
	}
	if v.PackageType == packageImage {
		if code.ImageUri == "" {
			return errInvalidParameter("Source image  is not valid. Provide a valid source image.")
		}
		if code.ZipFile != nil || code.S3Bucket != "" {
			return errInvalidParameter("Please don't provide ZipFile or S3 location when creating or updating a function with packageType Image.")
		}
		v.ImageURI = code.ImageUri
		v.CodeSha256 = imageDigest(code.ImageUri)
		v.CodeSize = 0
		v.CodeHash = ""
		return nil
	}
	switch {
	case code.ImageUri != "":
		return errInvalidParameter("Please don't provide ImageUri when updating a function with packageType Zip.")
	case code.ZipFile != nil && (code.S3Bucket != "" || code.S3Key != ""):
		return errInvalidParameter("Please do not provide other FunctionCode parameters when providing a ZipFile.")
	case code.S3Bucket != "" || code.S3Key != "":
		zip, err := a.codeFromS3(ctx, code.S3Bucket, code.S3Key)
		if err != nil {
			return err
		}
		code = &functionCode{ZipFile: zip}
	case len(code.ZipFile) == 0:
		return errInvalidParameter("Please provide a source for function code.")
	}
	sc, err := a.saveCode(code.ZipFile)
	if err != nil {
		return err
	}
	v.CodeSha256, v.CodeHash, v.CodeSize = sc.Sha256, sc.Hash, sc.Size
	return nil
}

func checkRole(role string) error {
	if !rolePattern.MatchString(role) {
		return errValidation(role, "role", `Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`)
	}
	return nil
}

func (a *API) functionKey(account, region, name string) store.Key {
	return store.Key{Account: account, Region: region, Kind: kindFunction, ID: name}
}

// loadFunction reads a function for a request; a missing one is Lambda's
// ResourceNotFoundException.
func (a *API) loadFunction(tx store.Tx, account, region, name string) (*functionRecord, int64, error) {
	var f functionRecord
	meta, err := tx.Get(a.functionKey(account, region, name), &f)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, errFunctionNotFound(functionARN(account, region, name))
	}
	if err != nil {
		return nil, 0, storeError(err, "read function %s", name)
	}
	return &f, meta.Version, nil
}

// storeError passes Lambda's own errors through and wraps store failures.
func storeError(err error, what string, args ...any) error {
	var ae *awserr.Error
	if errors.As(err, &ae) {
		return ae
	}
	return errInternal(err, what, args...)
}

// modifyFunction reads a function, lets fn change it and writes it back in
// one transaction.
func (a *API) modifyFunction(ctx context.Context, ref functionRef, fn func(tx store.Tx, f *functionRecord) error) (*functionRecord, error) {
	account, region := partition(ctx)
	var out *functionRecord
	err := a.store.Update(ctx, func(tx store.Tx) error {
		f, version, err := a.loadFunction(tx, account, region, ref.Name)
		if err != nil {
			return err
		}
		if err := fn(tx, f); err != nil {
			return err
		}
		if _, err := tx.Put(a.functionKey(account, region, ref.Name), f, version); err != nil {
			return err
		}
		out = f
		return nil
	})
	if err != nil {
		return nil, storeError(err, "update function %s", ref.Name)
	}
	return out, nil
}

// viewFunction reads a function outside any write.
func (a *API) viewFunction(ctx context.Context, name string) (*functionRecord, error) {
	account, region := partition(ctx)
	var f *functionRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		var err error
		f, _, err = a.loadFunction(tx, account, region, name)
		return err
	})
	if err != nil {
		return nil, storeError(err, "read function %s", name)
	}
	return f, nil
}

// resolveRef parses FunctionName and Qualifier and reads the function.
func (a *API) resolveRef(ctx context.Context, name, qualifier string) (functionRef, *functionRecord, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, name)
	if err != nil {
		return ref, nil, err
	}
	if ref, err = ref.withQualifier(qualifier); err != nil {
		return ref, nil, err
	}
	f, err := a.viewFunction(ctx, ref.Name)
	return ref, f, err
}

// versionFor finds the version a qualifier names: $LATEST (also for none),
// a published version, or the version an alias points to (its main one).
func (a *API) versionFor(ctx context.Context, f *functionRecord, qualifier string) (*versionRecord, error) {
	account, region := partition(ctx)
	switch {
	case qualifier == "" || qualifier == latest:
		return &f.Latest, nil
	case isVersionNumber(qualifier):
		if v := f.version(qualifier); v != nil {
			return v, nil
		}
	default:
		if al, ok := f.Aliases[qualifier]; ok {
			if v := f.version(al.Version); v != nil {
				return v, nil
			}
		}
	}
	return nil, errFunctionNotFound(qualifiedARN(account, region, f.Name, qualifier))
}

type getFunctionInput struct {
	FunctionName string
	Qualifier    string
}

type getFunctionOutput struct {
	Configuration *functionConfiguration
	Code          map[string]string
	Tags          map[string]string  `json:",omitempty"`
	Concurrency   *concurrencyOutput `json:",omitempty"`
}

func (a *API) getFunction(ctx context.Context, in *getFunctionInput) (*getFunctionOutput, error) {
	account, region := partition(ctx)
	ref, f, err := a.resolveRef(ctx, in.FunctionName, in.Qualifier)
	if err != nil {
		return nil, err
	}
	v, err := a.versionFor(ctx, f, ref.Qualifier)
	if err != nil {
		return nil, err
	}
	out := &getFunctionOutput{Configuration: a.configuration(account, region, f, v), Tags: f.Tags}
	if v.PackageType == packageImage {
		out.Code = map[string]string{"RepositoryType": "ECR", "ImageUri": v.ImageURI, "ResolvedImageUri": v.ImageURI}
	} else {
		out.Code = map[string]string{"RepositoryType": "S3", "Location": a.codeLocation(v.CodeHash)}
	}
	if f.Reserved != nil {
		out.Concurrency = &concurrencyOutput{ReservedConcurrentExecutions: f.Reserved}
	}
	return out, nil
}

func (a *API) getFunctionConfiguration(ctx context.Context, in *getFunctionInput) (*functionConfiguration, error) {
	account, region := partition(ctx)
	ref, f, err := a.resolveRef(ctx, in.FunctionName, in.Qualifier)
	if err != nil {
		return nil, err
	}
	v, err := a.versionFor(ctx, f, ref.Qualifier)
	if err != nil {
		return nil, err
	}
	return a.configuration(account, region, f, v), nil
}

type listFunctionsInput struct {
	FunctionVersion string
	Marker          string
	MaxItems        *int
}

type listFunctionsOutput struct {
	Functions  []*functionConfiguration
	NextMarker string `json:",omitempty"`
}

func (a *API) listFunctions(ctx context.Context, in *listFunctionsInput) (*listFunctionsOutput, error) {
	account, region := partition(ctx)
	var fns []*functionRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindFunction, Account: account, Region: region}, func(o store.Object) error {
			var f functionRecord
			if err := o.Decode(&f); err != nil {
				return err
			}
			fns = append(fns, &f)
			return nil
		})
	})
	if err != nil {
		return nil, errInternal(err, "list functions")
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	var all []*functionConfiguration
	for _, f := range fns {
		all = append(all, a.configuration(account, region, f, &f.Latest))
		if in.FunctionVersion == "ALL" {
			for i := range f.Versions {
				all = append(all, a.configuration(account, region, f, &f.Versions[i]))
			}
		}
	}
	page, next, err := paginate(all, in.Marker, in.MaxItems, 50, func(c *functionConfiguration) string { return c.FunctionArn })
	if err != nil {
		return nil, err
	}
	return &listFunctionsOutput{Functions: page, NextMarker: next}, nil
}

type updateFunctionCodeInput struct {
	FunctionName  string
	ZipFile       []byte
	S3Bucket      string
	S3Key         string
	ImageUri      string
	Publish       bool
	DryRun        bool
	RevisionId    string
	Architectures []string
}

func (a *API) updateFunctionCode(ctx context.Context, in *updateFunctionCodeInput) (*functionConfiguration, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return nil, err
	}
	current, err := a.viewFunction(ctx, ref.Name)
	if err != nil {
		return nil, err
	}
	// Store the package before the transaction: unpacking is slow and
	// the package is named by its content, so a lost race leaves nothing
	// behind that another function could not use.
	staged := current.Latest
	if err := a.applyCode(ctx, &staged, &functionCode{ZipFile: in.ZipFile, S3Bucket: in.S3Bucket, S3Key: in.S3Key, ImageUri: in.ImageUri}); err != nil {
		return nil, err
	}
	if in.DryRun {
		return a.configuration(account, region, current, &staged), nil
	}
	now := a.now()
	f, err := a.modifyFunction(ctx, ref, func(tx store.Tx, f *functionRecord) error {
		if err := a.checkUpdatable(account, region, f, in.RevisionId, now); err != nil {
			return err
		}
		if err := a.checkTotalCodeSize(tx, account, region, staged.CodeSize); err != nil {
			return err
		}
		v := &f.Latest
		v.CodeSha256, v.CodeHash, v.CodeSize, v.ImageURI = staged.CodeSha256, staged.CodeHash, staged.CodeSize, staged.ImageURI
		if len(in.Architectures) > 0 {
			v.Arch = in.Architectures[0]
		}
		a.touch(v, now)
		if in.Publish {
			f.publish("", now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if in.Publish {
		return a.configuration(account, region, f, &f.Versions[len(f.Versions)-1]), nil
	}
	return a.configuration(account, region, f, &f.Latest), nil
}

// checkUpdatable refuses changes to $LATEST while it is being created or
// updated, and changes made against a stale RevisionId.
func (a *API) checkUpdatable(account, region string, f *functionRecord, revisionID string, now time.Time) error {
	st := f.Latest.stateAt(now)
	switch {
	case st.State == "Pending":
		return errStateForbids(st.State)
	case st.LastUpdateStatus == "InProgress":
		return errUpdateInProgress(functionARN(account, region, f.Name))
	case revisionID != "" && revisionID != f.Latest.RevisionID:
		return errRevisionMismatch()
	}
	return nil
}

// touch records a code or configuration change of $LATEST, which Lambda
// reports as an update in progress for a moment.
func (a *API) touch(v *versionRecord, now time.Time) {
	v.RevisionID = newRevisionID()
	v.ConfigRevision = newRevisionID()
	v.LastModified = now
	v.UpdatingUntil = now.Add(a.settle)
}

type updateFunctionConfigurationInput struct {
	FunctionName     string
	Role             string
	Handler          string
	Description      *string
	Timeout          *int
	MemorySize       *int
	Environment      *environment
	Runtime          string
	RevisionId       string
	ImageConfig      *imageConfig
	EphemeralStorage *ephemeralStorage
	LoggingConfig    *loggingConfig
}

func (a *API) updateFunctionConfiguration(ctx context.Context, in *updateFunctionConfigurationInput) (*functionConfiguration, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return nil, err
	}
	if in.Role != "" {
		if err := checkRole(in.Role); err != nil {
			return nil, err
		}
	}
	now := a.now()
	f, err := a.modifyFunction(ctx, ref, func(tx store.Tx, f *functionRecord) error {
		if err := a.checkUpdatable(account, region, f, in.RevisionId, now); err != nil {
			return err
		}
		v := &f.Latest
		if err := a.applySettings(ctx, v, settings{Runtime: in.Runtime, Handler: in.Handler, Timeout: in.Timeout,
			MemorySize: in.MemorySize, Environment: in.Environment, EphemeralStorage: in.EphemeralStorage,
			ImageConfig: in.ImageConfig, LoggingConfig: in.LoggingConfig}); err != nil {
			return err
		}
		if in.Role != "" {
			v.Role = in.Role
		}
		if in.Description != nil {
			v.Description = *in.Description
		}
		a.touch(v, now)
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.prepareRuntime(in.Runtime)
	return a.configuration(account, region, f, &f.Latest), nil
}

type deleteFunctionInput struct {
	FunctionName string
	Qualifier    string
}

func (a *API) deleteFunction(ctx context.Context, in *deleteFunctionInput) (*struct{}, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return nil, err
	}
	if ref, err = ref.withQualifier(in.Qualifier); err != nil {
		return nil, err
	}
	if ref.Qualifier == latest {
		return nil, errInvalidParameter("$LATEST version cannot be deleted without deleting the function.")
	}
	if ref.Qualifier != "" {
		return nil, a.deleteVersion(ctx, ref)
	}
	err = a.store.Update(ctx, func(tx store.Tx) error {
		f, version, err := a.loadFunction(tx, account, region, ref.Name)
		if err != nil {
			return err
		}
		if err := tx.Delete(a.functionKey(account, region, ref.Name), version); err != nil {
			return err
		}
		if f.Reserved != nil {
			return a.setReservation(tx, account, region, ref.Name, nil)
		}
		return nil
	})
	if err != nil {
		return nil, storeError(err, "delete function %s", ref.Name)
	}
	if err := a.invoker.Retire(ctx, account, region, ref.Name); err != nil {
		a.log.Warn("retire deleted function's sandboxes", "function", ref.Name, "err", err)
	}
	return &struct{}{}, nil
}

// checkTotalCodeSize enforces the account's TotalCodeSize quota.
func (a *API) checkTotalCodeSize(tx store.Tx, account, region string, adding int64) error {
	total, _, err := a.usage(tx, account, region)
	if err != nil {
		return err
	}
	if total+adding > maxTotalCode {
		return errCodeStorageExceeded()
	}
	return nil
}
