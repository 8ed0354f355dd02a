package lambda

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func TestPublishVersion(t *testing.T) {
	h := newHarness(t, nil)
	created := h.createFunction(t, "v", nil)
	_, err := h.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("v"), CodeSha256: aws.String("wrong")})
	wantAPIError(t, err, "InvalidParameterValueException", 400)
	_, err = h.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("v"), RevisionId: aws.String("stale")})
	wantAPIError(t, err, "PreconditionFailedException", 412)

	v1, err := h.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("v"), CodeSha256: created.CodeSha256, Description: aws.String("first")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(v1.Version) != "1" || aws.ToString(v1.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:v:1" ||
		aws.ToString(v1.Description) != "first" || v1.State != types.StateActive {
		t.Errorf("PublishVersion: %+v", v1)
	}
	// Nothing changed: the same version again.
	again, err := h.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("v")})
	if err != nil || aws.ToString(again.Version) != "1" {
		t.Fatalf("republish unchanged: %+v %v", again, err)
	}
	if _, err := h.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("v"), MemorySize: aws.Int32(512)}); err != nil {
		t.Fatal(err)
	}
	v2, err := h.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("v")})
	if err != nil || aws.ToString(v2.Version) != "2" || aws.ToInt32(v2.MemorySize) != 512 {
		t.Fatalf("publish after a change: %+v %v", v2, err)
	}
	// Version 1 kept its configuration.
	got, err := h.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("v:1")})
	if err != nil || aws.ToInt32(got.MemorySize) != 128 {
		t.Fatalf("version 1: %+v %v", got, err)
	}
	list, err := h.client.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("v"), MaxItems: aws.Int32(2)})
	if err != nil || len(list.Versions) != 2 || aws.ToString(list.Versions[0].Version) != "$LATEST" || list.NextMarker == nil {
		t.Fatalf("ListVersionsByFunction page 1: %+v %v", list, err)
	}
	rest, err := h.client.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("v"), Marker: list.NextMarker})
	if err != nil || len(rest.Versions) != 1 || aws.ToString(rest.Versions[0].Version) != "2" || rest.NextMarker != nil {
		t.Fatalf("ListVersionsByFunction page 2: %+v %v", rest, err)
	}
	// Invoking a version runs that version.
	out, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("v"), Qualifier: aws.String("1")})
	if err != nil || aws.ToString(out.ExecutedVersion) != "1" {
		t.Fatalf("invoke version 1: %+v %v", out, err)
	}
	if fn := h.invoker.invocations()[0].fn; fn.Version != "1" || fn.MemoryMB != 128 {
		t.Errorf("runner got version %s with %d MB", fn.Version, fn.MemoryMB)
	}
}

func TestAliases(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "al", func(in *lambda.CreateFunctionInput) { in.Publish = true })
	if _, err := h.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("al"), Timeout: aws.Int32(9)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("al")}); err != nil {
		t.Fatal(err)
	}
	live, err := h.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("live"), FunctionVersion: aws.String("1"), Description: aws.String("prod")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(live.AliasArn) != "arn:aws:lambda:us-east-1:000000000000:function:al:live" || aws.ToString(live.RevisionId) == "" {
		t.Errorf("CreateAlias: %+v", live)
	}
	errCases := []struct {
		name string
		in   lambda.CreateAliasInput
		code string
		st   int
	}{
		{"duplicate", lambda.CreateAliasInput{Name: aws.String("live"), FunctionVersion: aws.String("1")}, "ResourceConflictException", 409},
		{"missing version", lambda.CreateAliasInput{Name: aws.String("x"), FunctionVersion: aws.String("7")}, "ResourceNotFoundException", 404},
		{"numeric name", lambda.CreateAliasInput{Name: aws.String("12"), FunctionVersion: aws.String("1")}, "ValidationException", 400},
		{"two extra versions", lambda.CreateAliasInput{Name: aws.String("y"), FunctionVersion: aws.String("1"),
			RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.1, "3": 0.1}}}, "InvalidParameterValueException", 400},
		{"weights on $LATEST", lambda.CreateAliasInput{Name: aws.String("z"), FunctionVersion: aws.String("$LATEST"),
			RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.1}}}, "InvalidParameterValueException", 400},
	}
	for _, tc := range errCases {
		tc.in.FunctionName = aws.String("al")
		_, err := h.client.CreateAlias(ctx, &tc.in)
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, err, tc.code, tc.st) })
	}

	out, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("al:live")})
	if err != nil || aws.ToString(out.ExecutedVersion) != "1" {
		t.Fatalf("invoke alias: %+v %v", out, err)
	}
	if req := h.invoker.invocations()[0].req; req.InvokedARN != "arn:aws:lambda:us-east-1:000000000000:function:al:live" {
		t.Errorf("InvokedARN %s", req.InvokedARN)
	}
	_, err = h.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("live"), RevisionId: aws.String("stale")})
	wantAPIError(t, err, "PreconditionFailedException", 412)
	upd, err := h.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("live"), RevisionId: live.RevisionId,
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.5}}})
	if err != nil || upd.RoutingConfig.AdditionalVersionWeights["2"] != 0.5 || aws.ToString(upd.FunctionVersion) != "1" ||
		aws.ToString(upd.RevisionId) == aws.ToString(live.RevisionId) {
		t.Fatalf("UpdateAlias: %+v %v", upd, err)
	}
	// Weighted routing sends some invocations to each version.
	counts := map[string]int{}
	for i := 0; i < 60; i++ {
		out, err := h.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("al"), Qualifier: aws.String("live")})
		if err != nil {
			t.Fatal(err)
		}
		counts[aws.ToString(out.ExecutedVersion)]++
	}
	if counts["1"] == 0 || counts["2"] == 0 || counts["1"]+counts["2"] != 60 {
		t.Errorf("weighted alias ran versions %v", counts)
	}
	// A version an alias uses cannot be deleted.
	_, err = h.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("al"), Qualifier: aws.String("2")})
	wantAPIError(t, err, "ResourceConflictException", 409)

	if _, err := h.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("al"), Name: aws.String("beta"), FunctionVersion: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	all, err := h.client.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("al")})
	if err != nil || len(all.Aliases) != 2 || aws.ToString(all.Aliases[0].Name) != "beta" {
		t.Fatalf("ListAliases: %+v %v", all, err)
	}
	byVersion, err := h.client.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("al"), FunctionVersion: aws.String("1")})
	if err != nil || len(byVersion.Aliases) != 1 || aws.ToString(byVersion.Aliases[0].Name) != "live" {
		t.Fatalf("ListAliases for version 1: %+v %v", byVersion, err)
	}
	got, err := h.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("al"), Name: aws.String("beta")})
	if err != nil || aws.ToString(got.FunctionVersion) != "2" {
		t.Fatalf("GetAlias: %+v %v", got, err)
	}
	if _, err := h.client.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("al"), Name: aws.String("beta")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("al"), Name: aws.String("beta")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
	// Deleting an alias that is not there succeeds, as Lambda's does.
	if _, err := h.client.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("al"), Name: aws.String("beta")}); err != nil {
		t.Errorf("deleting a missing alias: %v", err)
	}
	_, err = h.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("al"), Name: aws.String("beta"), FunctionVersion: aws.String("1")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
	// GetFunction by alias answers with the alias's version.
	cfg, err := h.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("al"), Qualifier: aws.String("live")})
	if err != nil || aws.ToString(cfg.Version) != "1" {
		t.Fatalf("GetFunctionConfiguration of an alias: %+v %v", cfg, err)
	}
}

func TestRouteAliasByWeight(t *testing.T) {
	al := &aliasRecord{Version: "1", Weights: map[string]float64{"2": 0.25}}
	for _, tc := range []struct {
		pick float64
		want string
	}{{0, "2"}, {0.24, "2"}, {0.25, "1"}, {0.99, "1"}} {
		if got := routeAlias(al, func() float64 { return tc.pick }); got != tc.want {
			t.Errorf("pick %v: version %s, want %s", tc.pick, got, tc.want)
		}
	}
}
