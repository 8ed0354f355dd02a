// Command gohello is a Lambda function built with aws-lambda-go, unmodified,
// for tests and benchmarks of the Runtime API: run it as the bootstrap of a
// provided.al2023 function. The event's "op" picks what it does.
package main

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Op      string `json:"op"`      // echo (default), error, panic, sleep
	Message string `json:"message"` // echoed, or the error message
	SleepMs int    `json:"sleepMs"`
}

type reply struct {
	Message     string `json:"message"`
	RequestID   string `json:"requestId"`
	FunctionARN string `json:"functionArn"`
	RemainingMs int64  `json:"remainingMs"`
	Function    string `json:"function"`
}

func handle(ctx context.Context, e event) (reply, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	deadline, _ := ctx.Deadline()
	switch e.Op {
	case "error":
		return reply{}, errors.New(e.Message)
	case "panic":
		panic(e.Message)
	case "sleep":
		time.Sleep(time.Duration(e.SleepMs) * time.Millisecond)
	}
	return reply{
		Message:     e.Message,
		RequestID:   lc.AwsRequestID,
		FunctionARN: lc.InvokedFunctionArn,
		RemainingMs: time.Until(deadline).Milliseconds(),
		Function:    lambdacontext.FunctionName,
	}, nil
}

func main() { lambda.Start(handle) }
