package lambda

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

func TestFunctionConcurrency(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "a", nil)
	h.createFunction(t, "b", nil)
	got, err := h.client.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("a")})
	if err != nil || got.ReservedConcurrentExecutions != nil {
		t.Fatalf("GetFunctionConcurrency before any: %+v %v", got, err)
	}
	put, err := h.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("a"), ReservedConcurrentExecutions: aws.Int32(800)})
	if err != nil || aws.ToInt32(put.ReservedConcurrentExecutions) != 800 {
		t.Fatalf("PutFunctionConcurrency: %+v %v", put, err)
	}
	// 800 + 101 would leave 99 unreserved.
	_, err = h.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("b"), ReservedConcurrentExecutions: aws.Int32(101)})
	wantAPIError(t, err, "InvalidParameterValueException", 400)
	if _, err := h.client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("b"), ReservedConcurrentExecutions: aws.Int32(100)}); err != nil {
		t.Fatalf("leaving exactly 100: %v", err)
	}
	settings, err := h.client.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if settings.AccountLimit.ConcurrentExecutions != 1000 || aws.ToInt32(settings.AccountLimit.UnreservedConcurrentExecutions) != 100 ||
		settings.AccountLimit.CodeSizeZipped != 52428800 || settings.AccountLimit.CodeSizeUnzipped != 262144000 ||
		settings.AccountLimit.TotalCodeSize != 80530636800 || settings.AccountUsage.FunctionCount != 2 || settings.AccountUsage.TotalCodeSize <= 0 {
		t.Errorf("GetAccountSettings: %+v %+v", settings.AccountLimit, settings.AccountUsage)
	}
	fn, err := h.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("a")})
	if err != nil || fn.Concurrency == nil || aws.ToInt32(fn.Concurrency.ReservedConcurrentExecutions) != 800 {
		t.Fatalf("GetFunction Concurrency: %+v %v", fn.Concurrency, err)
	}
	if _, err := h.client.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	// Deleting a function frees its reservation too.
	if _, err := h.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("b")}); err != nil {
		t.Fatal(err)
	}
	settings, err = h.client.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil || aws.ToInt32(settings.AccountLimit.UnreservedConcurrentExecutions) != 1000 || settings.AccountUsage.FunctionCount != 1 {
		t.Fatalf("after deletes: %+v %+v %v", settings.AccountLimit, settings.AccountUsage, err)
	}
}

func TestAccountConcurrencyOption(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.AccountConcurrency = 50 })
	settings, err := h.client.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil || settings.AccountLimit.ConcurrentExecutions != 50 || aws.ToInt32(settings.AccountLimit.UnreservedConcurrentExecutions) != 50 {
		t.Fatalf("GetAccountSettings: %+v %v", settings, err)
	}
}
