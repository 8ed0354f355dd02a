package lambda

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func TestCreateFunctionStoresAndUnpacksCode(t *testing.T) {
	h := newHarness(t, nil)
	pkg := zipOf(t, map[string]string{"bootstrap": "#!/bin/sh\necho hi\n", "lib/data.txt": "data"})
	out := h.createFunction(t, "hello", func(in *lambda.CreateFunctionInput) {
		in.Code.ZipFile = pkg
		in.MemorySize = aws.Int32(256)
		in.Timeout = aws.Int32(30)
		in.Environment = &types.Environment{Variables: map[string]string{"GREETING": "hi"}}
		in.Description = aws.String("says hi")
		in.Tags = map[string]string{"team": "nimbus"}
		in.Architectures = []types.Architecture{types.ArchitectureArm64}
		in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(1024)}
	})
	sum := sha256.Sum256(pkg)
	if aws.ToString(out.CodeSha256) != base64.StdEncoding.EncodeToString(sum[:]) || out.CodeSize != int64(len(pkg)) {
		t.Errorf("CodeSha256 %q CodeSize %d", aws.ToString(out.CodeSha256), out.CodeSize)
	}
	if aws.ToString(out.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:hello" ||
		aws.ToString(out.Version) != "$LATEST" || aws.ToInt32(out.MemorySize) != 256 || aws.ToInt32(out.Timeout) != 30 ||
		out.Architectures[0] != types.ArchitectureArm64 || aws.ToInt32(out.EphemeralStorage.Size) != 1024 ||
		out.Environment.Variables["GREETING"] != "hi" || out.PackageType != types.PackageTypeZip ||
		aws.ToString(out.RevisionId) == "" || out.State != types.StateActive ||
		aws.ToString(out.LoggingConfig.LogGroup) != "/aws/lambda/hello" {
		t.Errorf("CreateFunction answered %+v", out)
	}
	hexSum := filepath.Join(h.dataDir, "lambda", "code", strings.ToLower(hexOf(sum[:])))
	info, err := os.Stat(filepath.Join(hexSum, "bootstrap"))
	if err != nil || info.Mode()&0o111 == 0 {
		t.Fatalf("unpacked bootstrap: %v %v", info, err)
	}
	if b, err := os.ReadFile(filepath.Join(hexSum, "lib", "data.txt")); err != nil || string(b) != "data" {
		t.Errorf("unpacked lib/data.txt: %q %v", b, err)
	}

	got, err := h.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Tags["team"] != "nimbus" || aws.ToString(got.Code.RepositoryType) != "S3" ||
		aws.ToString(got.Configuration.Description) != "says hi" {
		t.Errorf("GetFunction %+v", got)
	}
	// Code.Location serves the package itself.
	loc := aws.ToString(got.Code.Location)
	rec := httpGet(t, h.api.CodeHandler(), loc[strings.Index(loc, CodePathPrefix):])
	if rec != string(pkg) {
		t.Errorf("Code.Location %s served %d bytes, want the package", loc, len(rec))
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func httpGet(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	srv := newTestServer(t, h)
	resp, err := http.Get(srv + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestCreateFunctionErrors(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "taken", nil)
	cases := []struct {
		name   string
		mod    func(*lambda.CreateFunctionInput)
		code   string
		status int
	}{
		{"duplicate", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("taken") }, "ResourceConflictException", 409},
		{"not a zip", func(in *lambda.CreateFunctionInput) { in.Code.ZipFile = []byte("not a zip") }, "InvalidParameterValueException", 400},
		{"runtime nimbus lacks", func(in *lambda.CreateFunctionInput) { in.Runtime = types.RuntimeJava21 }, "InvalidParameterValueException", 400},
		{"retired runtime", func(in *lambda.CreateFunctionInput) { in.Runtime = types.RuntimePython27 }, "InvalidParameterValueException", 400},
		{"bad role", func(in *lambda.CreateFunctionInput) { in.Role = aws.String("not-a-role") }, "ValidationException", 400},
		{"memory too small", func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(64) }, "ValidationException", 400},
		{"memory too large", func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(10241) }, "ValidationException", 400},
		{"timeout too long", func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(901) }, "ValidationException", 400},
		{"ephemeral too small", func(in *lambda.CreateFunctionInput) {
			in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(100)}
		}, "ValidationException", 400},
		{"environment over 4 KB", func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"BIG": strings.Repeat("x", 4100)}}
		}, "InvalidParameterValueException", 400},
		{"reserved variable", func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"AWS_REGION": "x"}}
		}, "InvalidParameterValueException", 400},
		{"no runtime", func(in *lambda.CreateFunctionInput) { in.Runtime = "" }, "InvalidParameterValueException", 400},
		{"bad name", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("bad name!") }, "ValidationException", 400},
		{"image without uri", func(in *lambda.CreateFunctionInput) {
			in.PackageType = types.PackageTypeImage
			in.Runtime, in.Handler = "", nil
		}, "InvalidParameterValueException", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &lambda.CreateFunctionInput{
				FunctionName: aws.String("f-" + strings.ReplaceAll(tc.name, " ", "-")), Runtime: types.RuntimeProvidedal2023,
				Role: aws.String(testRole), Handler: aws.String("bootstrap"),
				Code: &types.FunctionCode{ZipFile: zipOf(t, map[string]string{"bootstrap": "x"})},
			}
			tc.mod(in)
			_, err := h.client.CreateFunction(ctx, in)
			wantAPIError(t, err, tc.code, tc.status)
		})
	}
}

func TestCreateImageFunction(t *testing.T) {
	h := newHarness(t, nil)
	out, err := h.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("img"), PackageType: types.PackageTypeImage, Role: aws.String(testRole),
		Code:        &types.FunctionCode{ImageUri: aws.String("busybox:latest")},
		ImageConfig: &types.ImageConfig{Command: []string{"app.handler"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.PackageType != types.PackageTypeImage || out.Runtime != "" || out.ImageConfigResponse.ImageConfig.Command[0] != "app.handler" {
		t.Errorf("CreateFunction %+v", out)
	}
	got, err := h.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("img")})
	if err != nil || aws.ToString(got.Code.ImageUri) != "busybox:latest" || aws.ToString(got.Code.RepositoryType) != "ECR" {
		t.Fatalf("GetFunction %+v %v", got, err)
	}
	if _, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("img")}); err != nil {
		t.Fatal(err)
	}
	fn := h.invoker.invocations()[0].fn
	if fn.ImageURI != "busybox:latest" || fn.CodeDir != "" || fn.ImageCommand[0] != "app.handler" {
		t.Errorf("runner got %+v", fn)
	}
}

func TestFunctionNamesResolveEveryForm(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "named", nil)
	for _, name := range []string{"named", "000000000000:function:named", "arn:aws:lambda:us-east-1:000000000000:function:named",
		"named:$LATEST", "arn:aws:lambda:us-east-1:000000000000:function:named:$LATEST"} {
		out, err := h.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil || aws.ToString(out.FunctionName) != "named" {
			t.Errorf("%s: %+v %v", name, out, err)
		}
	}
	for _, name := range []string{"nope", "arn:aws:lambda:us-west-2:000000000000:function:named", "111111111111:function:named", "named:7"} {
		_, err := h.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		wantAPIError(t, err, "ResourceNotFoundException", 404)
	}
	_, err := h.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("named:$LATEST"), Qualifier: aws.String("3")})
	wantAPIError(t, err, "InvalidParameterValueException", 400)
}

func TestListFunctionsPaginates(t *testing.T) {
	h := newHarness(t, nil)
	names := []string{"a", "b", "c", "d", "e"}
	for _, n := range names {
		h.createFunction(t, n, func(in *lambda.CreateFunctionInput) { in.Publish = n == "c" })
	}
	var got []string
	var marker *string
	pages := 0
	for {
		out, err := h.client.ListFunctions(ctx, &lambda.ListFunctionsInput{MaxItems: aws.Int32(2), Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, f := range out.Functions {
			got = append(got, aws.ToString(f.FunctionName))
		}
		if marker = out.NextMarker; marker == nil {
			break
		}
	}
	if strings.Join(got, ",") != strings.Join(names, ",") || pages != 3 {
		t.Errorf("listed %v in %d pages", got, pages)
	}
	all, err := h.client.ListFunctions(ctx, &lambda.ListFunctionsInput{FunctionVersion: types.FunctionVersionAll})
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, f := range all.Functions {
		versions = append(versions, aws.ToString(f.FunctionName)+":"+aws.ToString(f.Version))
	}
	if strings.Join(versions, ",") != "a:$LATEST,b:$LATEST,c:$LATEST,c:1,d:$LATEST,e:$LATEST" {
		t.Errorf("FunctionVersion=ALL listed %v", versions)
	}
}

func TestStatesMoveAsLambdas(t *testing.T) {
	settle := 150 * time.Millisecond
	h := newHarness(t, func(o *Options) { o.SettleDelay = settle })
	out := h.createFunction(t, "slow", nil)
	if out.State != types.StatePending || out.StateReasonCode != types.StateReasonCodeCreating || out.LastUpdateStatus != types.LastUpdateStatusInProgress {
		t.Fatalf("new function: State %s %s LastUpdateStatus %s", out.State, out.StateReasonCode, out.LastUpdateStatus)
	}
	_, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("slow")})
	wantAPIError(t, err, "ResourceConflictException", 409)
	_, err = h.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("slow"), MemorySize: aws.Int32(512)})
	wantAPIError(t, err, "ResourceConflictException", 409)

	// The CLI's waiter function-active-v2 polls GetFunction until Active.
	waiter := lambda.NewFunctionActiveV2Waiter(h.client, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 100 * time.Millisecond
	})
	if err := waiter.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("slow")}, 5*time.Second); err != nil {
		t.Fatalf("function-active-v2: %v", err)
	}

	up, err := h.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("slow"), MemorySize: aws.Int32(512)})
	if err != nil {
		t.Fatal(err)
	}
	if up.LastUpdateStatus != types.LastUpdateStatusInProgress || up.State != types.StateActive || aws.ToString(up.RevisionId) == aws.ToString(out.RevisionId) {
		t.Errorf("after update: %s %s revision %s", up.State, up.LastUpdateStatus, aws.ToString(up.RevisionId))
	}
	_, err = h.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("slow"), ZipFile: zipOf(t, map[string]string{"bootstrap": "v2"})})
	wantAPIError(t, err, "ResourceConflictException", 409)
	// Invoking during an update runs the function.
	if _, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("slow")}); err != nil {
		t.Errorf("invoke during update: %v", err)
	}
	updated := lambda.NewFunctionUpdatedV2Waiter(h.client, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 100 * time.Millisecond
	})
	if err := updated.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("slow")}, 5*time.Second); err != nil {
		t.Fatalf("function-updated-v2: %v", err)
	}
	cfg, err := h.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("slow")})
	if err != nil || cfg.LastUpdateStatus != types.LastUpdateStatusSuccessful || aws.ToInt32(cfg.MemorySize) != 512 {
		t.Fatalf("after settling: %+v %v", cfg, err)
	}
}

func TestUpdateFunctionCodeAndConfiguration(t *testing.T) {
	h := newHarness(t, nil)
	first := h.createFunction(t, "upd", nil)
	_, err := h.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("upd"),
		ZipFile: zipOf(t, map[string]string{"bootstrap": "v2"}), RevisionId: aws.String("stale")})
	wantAPIError(t, err, "PreconditionFailedException", 412)
	_, err = h.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("upd"), ZipFile: []byte("nope")})
	wantAPIError(t, err, "InvalidParameterValueException", 400)

	pkg := zipOf(t, map[string]string{"bootstrap": "v2"})
	code, err := h.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("upd"), ZipFile: pkg,
		RevisionId: first.RevisionId, Publish: true})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pkg)
	if aws.ToString(code.CodeSha256) != base64.StdEncoding.EncodeToString(sum[:]) || aws.ToString(code.Version) != "1" {
		t.Errorf("UpdateFunctionCode with Publish: %+v", code)
	}
	cfg, err := h.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("upd"),
		Timeout: aws.Int32(60), Environment: &types.Environment{Variables: map[string]string{"A": "1"}}, Description: aws.String("")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(cfg.Timeout) != 60 || cfg.Environment.Variables["A"] != "1" || aws.ToString(cfg.CodeSha256) != aws.ToString(code.CodeSha256) {
		t.Errorf("UpdateFunctionConfiguration: %+v", cfg)
	}
	if _, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("upd")}); err != nil {
		t.Fatal(err)
	}
	fn := h.invoker.invocations()[0].fn
	if fn.Timeout != 60*time.Second || fn.Environment["A"] != "1" || !strings.HasSuffix(fn.CodeDir, hexOf(sum[:])) ||
		fn.Revision == "" || fn.LogGroup != "/aws/lambda/upd" || fn.UnreservedPool != DefaultAccountConcurrency {
		t.Errorf("runner got %+v", fn)
	}
	// A config change gives the runner a new revision.
	if _, err := h.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("upd"), MemorySize: aws.Int32(1024)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("upd")}); err != nil {
		t.Fatal(err)
	}
	if again := h.invoker.invocations()[1].fn; again.Revision == fn.Revision || again.MemoryMB != 1024 {
		t.Errorf("revision %q after a change, was %q", again.Revision, fn.Revision)
	}
}

func TestDeleteFunction(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "doomed", func(in *lambda.CreateFunctionInput) { in.Publish = true })
	_, err := h.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("doomed"), Qualifier: aws.String("$LATEST")})
	wantAPIError(t, err, "InvalidParameterValueException", 400)
	if _, err := h.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("doomed"), Qualifier: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("doomed"), Qualifier: aws.String("1")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
	if _, err := h.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("doomed")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("doomed")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
	_, err = h.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("doomed")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
	if r := h.invoker.retiredNames(); len(r) != 1 || r[0] != "doomed" {
		t.Errorf("retired %v", r)
	}
}

// TestRuntimePreparedOnCreateAndRuntimeChange: the invoker is asked to
// ready a runtime's files (Java's bootstrap compiles for seconds) when a
// function is created with it and when its runtime changes, not on other
// updates.
func TestRuntimePreparedOnCreateAndRuntimeChange(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "prep", nil)
	if _, err := h.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("prep"),
		Timeout: aws.Int32(9)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the update to settle", func() bool {
		out, err := h.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("prep")})
		return err == nil && out.LastUpdateStatus == types.LastUpdateStatusSuccessful
	})
	if _, err := h.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("prep"),
		Runtime: types.RuntimeProvidedal2}); err != nil {
		t.Fatal(err)
	}
	if got, want := h.invoker.preparedRuntimes(), []string{"provided.al2023", "provided.al2"}; !slices.Equal(got, want) {
		t.Errorf("runtimes prepared = %q, want %q", got, want)
	}
}
