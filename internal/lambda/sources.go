package lambda

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/policy"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// This file is how other services reach functions: S3 event notifications
// (AllowsS3Invoke, EnqueueEvent) and IAM's evaluation of resource policies
// (ResourcePolicy).

// ErrNoSuchFunction is wrapped by EnqueueEvent when the function (or the
// version or alias its ARN names) does not exist, so a caller can drop the
// event rather than retry it.
var ErrNoSuchFunction = errors.New("no such function")

// functionAt takes a function ARN apart: account, region, name, qualifier.
func functionAt(arn string) (account, region string, ref functionRef, err error) {
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" {
		return "", "", functionRef{}, errInvalidParameter("Invalid function ARN %s", arn)
	}
	ref, err = parseFunctionName(parts[4], parts[3], arn)
	return parts[4], parts[3], ref, err
}

// AllowsS3Invoke reports whether the function exists and its resource
// policy lets s3.amazonaws.com invoke it on behalf of the bucket, as S3
// checks before it accepts a notification configuration.
func (a *API) AllowsS3Invoke(ctx context.Context, functionARN, bucketARN, bucketOwner string) (bool, error) {
	account, region, ref, err := functionAt(functionARN)
	if err != nil {
		return false, nil
	}
	var doc string
	err = a.store.View(ctx, func(tx store.Tx) error {
		f, _, err := a.loadFunction(tx, account, region, ref.Name)
		if err != nil {
			return err
		}
		if ref.Qualifier != "" && ref.Qualifier != latest && f.version(ref.Qualifier) == nil && f.Aliases[ref.Qualifier] == nil {
			return errFunctionNotFound(functionARN)
		}
		if stmts := f.Policies[qualifierOf(ref)]; len(stmts) > 0 {
			doc, err = policyDocument(stmts)
		}
		return err
	})
	var ae *awserr.Error
	if errors.As(err, &ae) && ae.Kind == awserr.NotFound || errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if doc == "" {
		return false, nil
	}
	p, err := policy.Parse(doc, policy.Resource)
	if err != nil {
		return false, nil
	}
	req := &policy.Request{
		Caller:   policy.Caller{Service: "s3.amazonaws.com"},
		Action:   "lambda:InvokeFunction",
		Resource: functionARN,
		Context:  policy.Context{},
	}
	req.Context.Set("aws:SourceArn", bucketARN)
	req.Context.Set("aws:SourceAccount", bucketOwner)
	return policy.Evaluate(req, &policy.Set{Resource: []*policy.Policy{p}}).Decision == policy.Allowed, nil
}

// qualifierOf is the key a qualifier's policy statements are kept under:
// "" for the unqualified function.
func qualifierOf(ref functionRef) string {
	if ref.Qualifier == latest {
		return ""
	}
	return ref.Qualifier
}

// EnqueueEvent queues an asynchronous invocation of the function the ARN
// names, durably, as an Event invoke does; an error wrapping
// ErrNoSuchFunction means the function is gone.
func (a *API) EnqueueEvent(ctx context.Context, functionARN string, payload []byte) error {
	account, region, ref, err := functionAt(functionARN)
	if err != nil {
		return errors.Join(ErrNoSuchFunction, err)
	}
	t, err := a.resolveTarget(ctx, account, region, ref, randomWeight)
	var ae *awserr.Error
	if errors.As(err, &ae) && ae.Kind == awserr.NotFound {
		return errors.Join(ErrNoSuchFunction, err)
	}
	if err != nil {
		return err
	}
	return a.enqueue(ctx, t, newRevisionID(), payload) // a random UUID
}

// ResourcePolicy returns the resource policy of the function (or version
// or alias) an ARN names, "" when it has none: IAM evaluates it beside the
// caller's identity policies.
func (a *API) ResourcePolicy(ctx context.Context, account, arn string) (string, error) {
	acct, region, ref, err := functionAt(arn)
	if err != nil || acct != account {
		return "", nil
	}
	var doc string
	err = a.store.View(ctx, func(tx store.Tx) error {
		f, _, err := a.loadFunction(tx, acct, region, ref.Name)
		if err != nil {
			return err
		}
		if stmts := f.Policies[qualifierOf(ref)]; len(stmts) > 0 {
			doc, err = policyDocument(stmts)
		}
		return err
	})
	var ae *awserr.Error
	if errors.As(err, &ae) && ae.Kind == awserr.NotFound || errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return doc, err
}

// codeFromS3 reads a deployment package named by S3Bucket and S3Key, as
// CreateFunction and UpdateFunctionCode accept it, with Lambda's wording
// for S3's errors.
func (a *API) codeFromS3(ctx context.Context, bucket, key string) ([]byte, error) {
	if bucket == "" || key == "" {
		return nil, errInvalidParameter("Please provide both S3Bucket and S3Key.")
	}
	if a.s3Objects == nil {
		return nil, errInvalidParameter("Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist")
	}
	account, _ := partition(ctx)
	r, size, err := a.s3Objects(ctx, account, bucket, key)
	var ae *awserr.Error
	if errors.As(err, &ae) && (ae.Code == "NoSuchBucket" || ae.Code == "NoSuchKey" || ae.Kind == awserr.NotFound) {
		msg := "The specified key does not exist."
		if ae.Code == "NoSuchBucket" {
			msg = "The specified bucket does not exist"
		}
		return nil, errInvalidParameter("Error occurred while GetObject. S3 Error Code: %s. S3 Error Message: %s", ae.Code, msg)
	}
	if err != nil {
		return nil, errInternal(err, "read s3://%s/%s", bucket, key)
	}
	defer r.Close()
	if size > maxZippedCode {
		return nil, errInvalidParameter("Zipped size must be smaller than %d bytes", maxZippedCode)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxZippedCode+1))
	if err != nil {
		return nil, errInternal(err, "read s3://%s/%s", bucket, key)
	}
	return data, nil
}
