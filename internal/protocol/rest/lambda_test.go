package rest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/protocoltest"
)

func TestLambdaCreateFunctionRoundTrip(t *testing.T) {
	modified := "2024-05-01T10:11:12.000+0000"
	ct := newTransport(t, "lambda", func(op *awsmodel.Operation, in map[string]any) (map[string]any, *awserr.Error) {
		return map[string]any{
			"FunctionName": in["FunctionName"],
			"FunctionArn":  "arn:aws:lambda:us-east-1:000000000000:function:" + in["FunctionName"].(string),
			"Runtime":      in["Runtime"],
			"MemorySize":   in["MemorySize"],
			"Timeout":      in["Timeout"],
			"LastModified": modified,
			"State":        "Active",
			"Environment":  map[string]any{"Variables": field(in, "Environment", "Variables")},
			"CodeSize":     len(field(in, "Code", "ZipFile").([]byte)),
		}, nil
	})
	zip := []byte("PK\x03\x04 not really a zip \x00\xff")
	out, err := lambda.NewFromConfig(protocoltest.ClientConfig(ct)).CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("hello"),
		Runtime:      lambdatypes.RuntimePython312,
		Role:         aws.String("arn:aws:iam::000000000000:role/lambda"),
		Handler:      aws.String("app.handler"),
		Code:         &lambdatypes.FunctionCode{ZipFile: zip},
		Environment:  &lambdatypes.Environment{Variables: map[string]string{"GREETING": "hi", "EMPTY": ""}},
		Tags:         map[string]string{"team": "nimbus"},
		MemorySize:   aws.Int32(256),
		Timeout:      aws.Int32(30),
	})
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	op, in := ct.last()
	if op.Name != "CreateFunction" {
		t.Fatalf("resolved %s, want CreateFunction", op.Name)
	}
	want := map[string]any{
		"FunctionName": "hello",
		"Runtime":      "python3.12",
		"Role":         "arn:aws:iam::000000000000:role/lambda",
		"Handler":      "app.handler",
		"Code":         map[string]any{"ZipFile": zip},
		"Environment":  map[string]any{"Variables": map[string]any{"GREETING": "hi", "EMPTY": ""}},
		"Tags":         map[string]any{"team": "nimbus"},
		"MemorySize":   int64(256),
		"Timeout":      int64(30),
	}
	for k, w := range want {
		if !reflect.DeepEqual(in[k], w) {
			t.Errorf("decoded %s = %#v, want %#v", k, in[k], w)
		}
	}
	if aws.ToString(out.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:hello" ||
		aws.ToInt32(out.MemorySize) != 256 || aws.ToInt32(out.Timeout) != 30 ||
		out.State != lambdatypes.StateActive || aws.ToString(out.LastModified) != modified ||
		out.Environment.Variables["GREETING"] != "hi" || out.CodeSize != int64(len(zip)) {
		t.Errorf("SDK decoded %+v", out)
	}
}

func TestLambdaInvokeRoundTrip(t *testing.T) {
	result := []byte(`{"errorMessage":"boom","errorType":"RuntimeError"}`)
	logTail := base64.StdEncoding.EncodeToString([]byte("START RequestId: 1\nEND\n"))
	ct := newTransport(t, "lambda", func(op *awsmodel.Operation, in map[string]any) (map[string]any, *awserr.Error) {
		return map[string]any{
			"StatusCode":      200,
			"FunctionError":   "Unhandled",
			"LogResult":       logTail,
			"ExecutedVersion": "$LATEST",
			"Payload":         result,
		}, nil
	})
	payload := []byte(`{"name":"world","n":[1,2,3]}`)
	out, err := lambda.NewFromConfig(protocoltest.ClientConfig(ct)).Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String("arn:aws:lambda:us-east-1:000000000000:function:hello"),
		Payload:        payload,
		InvocationType: lambdatypes.InvocationTypeRequestResponse,
		LogType:        lambdatypes.LogTypeTail,
		Qualifier:      aws.String("prod"),
	})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	op, in := ct.last()
	if op.Name != "Invoke" {
		t.Fatalf("resolved %s, want Invoke", op.Name)
	}
	want := map[string]any{
		"FunctionName":   "arn:aws:lambda:us-east-1:000000000000:function:hello",
		"Payload":        payload,
		"InvocationType": "RequestResponse",
		"LogType":        "Tail",
		"Qualifier":      "prod",
	}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("decoded %#v\nwant    %#v", in, want)
	}
	if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" ||
		aws.ToString(out.LogResult) != logTail || aws.ToString(out.ExecutedVersion) != "$LATEST" ||
		!bytes.Equal(out.Payload, result) {
		t.Errorf("SDK decoded StatusCode=%d FunctionError=%q LogResult=%q ExecutedVersion=%q Payload=%q",
			out.StatusCode, aws.ToString(out.FunctionError), aws.ToString(out.LogResult), aws.ToString(out.ExecutedVersion), out.Payload)
	}
}

func TestLambdaInvokeAsyncStatus(t *testing.T) {
	ct := newTransport(t, "lambda", func(op *awsmodel.Operation, in map[string]any) (map[string]any, *awserr.Error) {
		return map[string]any{"StatusCode": int64(202)}, nil
	})
	out, err := lambda.NewFromConfig(protocoltest.ClientConfig(ct)).Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String("hello"),
		InvocationType: lambdatypes.InvocationTypeEvent,
	})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if out.StatusCode != 202 || len(out.Payload) != 0 {
		t.Errorf("StatusCode=%d Payload=%q, want 202 and no payload", out.StatusCode, out.Payload)
	}
	if _, in := ct.last(); in["InvocationType"] != "Event" {
		t.Errorf("InvocationType decoded as %v", in["InvocationType"])
	}
}

func TestLambdaListAndGetFunction(t *testing.T) {
	ct := newTransport(t, "lambda", func(op *awsmodel.Operation, in map[string]any) (map[string]any, *awserr.Error) {
		switch op.Name {
		case "ListFunctions":
			return map[string]any{
				"Functions":  []any{map[string]any{"FunctionName": "a", "MemorySize": 128}, map[string]any{"functionname": "b"}},
				"NextMarker": "next-page",
			}, nil
		case "GetFunction":
			return map[string]any{
				"Configuration": map[string]any{"FunctionName": "hello", "Version": in["Qualifier"]},
				"Code":          map[string]any{"RepositoryType": "S3", "Location": "http://127.0.0.1:4566/code.zip"},
				"Tags":          map[string]string{"team": "nimbus"},
			}, nil
		}
		return nil, &awserr.Error{Kind: awserr.NotImplemented}
	})
	client := lambda.NewFromConfig(protocoltest.ClientConfig(ct))
	list, err := client.ListFunctions(ctx, &lambda.ListFunctionsInput{Marker: aws.String("m/1=2"), MaxItems: aws.Int32(5)})
	if err != nil {
		t.Fatalf("ListFunctions: %v", err)
	}
	op, in := ct.last()
	if op.Name != "ListFunctions" || in["Marker"] != "m/1=2" || in["MaxItems"] != int64(5) {
		t.Errorf("decoded %s %#v", op.Name, in)
	}
	if len(list.Functions) != 2 || aws.ToString(list.Functions[1].FunctionName) != "b" ||
		aws.ToInt32(list.Functions[0].MemorySize) != 128 || aws.ToString(list.NextMarker) != "next-page" {
		t.Errorf("SDK decoded %+v", list)
	}

	arn := "arn:aws:lambda:us-east-1:000000000000:function:hello"
	got, err := client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(arn), Qualifier: aws.String("7")})
	if err != nil {
		t.Fatalf("GetFunction: %v", err)
	}
	op, in = ct.last()
	if op.Name != "GetFunction" || in["FunctionName"] != arn || in["Qualifier"] != "7" {
		t.Errorf("decoded %s %#v", op.Name, in)
	}
	if aws.ToString(got.Configuration.Version) != "7" || aws.ToString(got.Code.Location) != "http://127.0.0.1:4566/code.zip" ||
		got.Tags["team"] != "nimbus" {
		t.Errorf("SDK decoded %+v", got)
	}
}

func TestLambdaErrors(t *testing.T) {
	cases := []struct {
		name   string
		err    *awserr.Error
		status int
		check  func(t *testing.T, err error)
	}{
		{
			name:   "not found",
			err:    &awserr.Error{Kind: awserr.NotFound, Message: "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"},
			status: http.StatusNotFound,
			check: func(t *testing.T, err error) {
				var nf *lambdatypes.ResourceNotFoundException
				if !errors.As(err, &nf) {
					t.Fatalf("error %T %v, want ResourceNotFoundException", err, err)
				}
				if nf.ErrorMessage() != "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope" || aws.ToString(nf.Type) != "User" {
					t.Errorf("message %q type %q", nf.ErrorMessage(), aws.ToString(nf.Type))
				}
			},
		},
		{
			name: "throttled",
			err: &awserr.Error{Kind: awserr.Throttled, Message: "Rate Exceeded.",
				Fields: map[string]string{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "retryAfterSeconds": "3"}},
			status: http.StatusTooManyRequests,
			check: func(t *testing.T, err error) {
				var tm *lambdatypes.TooManyRequestsException
				if !errors.As(err, &tm) {
					t.Fatalf("error %T %v, want TooManyRequestsException", err, err)
				}
				if tm.Reason != lambdatypes.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded ||
					tm.ErrorMessage() != "Rate Exceeded." || aws.ToString(tm.RetryAfterSeconds) != "3" {
					t.Errorf("decoded %+v", tm)
				}
			},
		},
		{
			name:   "validation",
			err:    awserr.Validationf("1 validation error detected"),
			status: http.StatusBadRequest,
			check: func(t *testing.T, err error) {
				var api smithy.APIError
				if !errors.As(err, &api) || api.ErrorCode() != "ValidationException" || api.ErrorMessage() != "1 validation error detected" {
					t.Errorf("error %T %v, want ValidationException", err, err)
				}
			},
		},
		{
			name:   "service fault",
			err:    &awserr.Error{Kind: awserr.Internal, Message: "disk on fire"},
			status: http.StatusInternalServerError,
			check: func(t *testing.T, err error) {
				var se *lambdatypes.ServiceException
				if !errors.As(err, &se) || aws.ToString(se.Type) != "Service" {
					t.Errorf("error %T %v, want ServiceException of Type Service", err, err)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct := newTransport(t, "lambda", func(*awsmodel.Operation, map[string]any) (map[string]any, *awserr.Error) {
				return nil, tc.err
			})
			_, err := lambda.NewFromConfig(protocoltest.ClientConfig(ct)).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("nope")})
			if err == nil {
				t.Fatal("GetFunction succeeded, want an error")
			}
			var re *smithyhttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != tc.status {
				t.Errorf("status %v, want %d", err, tc.status)
			}
			tc.check(t, err)
		})
	}
}
