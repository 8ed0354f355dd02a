package lambda

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (a *API) registerURLs(svc *service.Service) {
	svc.Handle("CreateFunctionUrlConfig", service.Op(a.createURLConfig))
	svc.Handle("GetFunctionUrlConfig", service.Op(a.getURLConfig))
	svc.Handle("UpdateFunctionUrlConfig", service.Op(a.updateURLConfig))
	svc.Handle("DeleteFunctionUrlConfig", service.Op(a.deleteURLConfig))
	svc.Handle("ListFunctionUrlConfigs", service.Op(a.listURLConfigs))
}

type corsConfig struct {
	AllowCredentials *bool    `json:",omitempty"`
	AllowHeaders     []string `json:",omitempty"`
	AllowMethods     []string `json:",omitempty"`
	AllowOrigins     []string `json:",omitempty"`
	ExposeHeaders    []string `json:",omitempty"`
	MaxAge           *int     `json:",omitempty"`
}

type urlConfigInput struct {
	FunctionName string
	Qualifier    string
	AuthType     string
	Cors         *corsConfig
	InvokeMode   string
}

type urlConfigOutput struct {
	FunctionUrl      string
	FunctionArn      string
	AuthType         string
	Cors             *corsConfig `json:",omitempty"`
	CreationTime     string
	LastModifiedTime string `json:",omitempty"`
	InvokeMode       string
}

// urlTimeFormat is how Lambda writes the URL timestamps (string members).
const urlTimeFormat = "2006-01-02T15:04:05.000000Z"

// urlIDAlphabet is what a URL ID is made of: 32 lowercase letters and
// digits, as Lambda's.
const urlIDAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func newURLID() string {
	var b [32]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = urlIDAlphabet[int(b[i])%len(urlIDAlphabet)]
	}
	return string(b[:])
}

// functionURL is the URL a function URL config answers on.
func (a *API) functionURL(region, id string) string {
	return fmt.Sprintf("http://%s.lambda-url.%s.localhost:%d/", id, region, a.urlPort)
}

func (a *API) urlOutput(account, region, fn, q string, u *urlRecord, withModified bool) *urlConfigOutput {
	out := &urlConfigOutput{FunctionUrl: a.functionURL(region, u.URLID), FunctionArn: qualifiedARN(account, region, fn, q),
		AuthType: u.AuthType, Cors: u.Cors, CreationTime: u.Created.UTC().Format(urlTimeFormat), InvokeMode: u.InvokeMode}
	if withModified {
		out.LastModifiedTime = u.LastModified.UTC().Format(urlTimeFormat)
	}
	return out
}

// urlTarget checks the qualifier of a URL config: none, $LATEST or an
// alias; never a version number.
func urlTarget(account, region string, f *functionRecord, q string) error {
	switch {
	case q == "" || q == latest:
		return nil
	case isVersionNumber(q):
		return errValidation(q, "qualifier", `Member must satisfy regular expression pattern: (^\$LATEST$)|((?!^[0-9]+$)([a-zA-Z0-9-_]+))`)
	case f.Aliases[q] == nil:
		return errFunctionNotFound(qualifiedARN(account, region, f.Name, q))
	}
	return nil
}

func (a *API) urlRef(ctx context.Context, in *urlConfigInput) (functionRef, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return ref, err
	}
	return ref.withQualifier(in.Qualifier)
}

func (a *API) createURLConfig(ctx context.Context, in *urlConfigInput) (*urlConfigOutput, error) {
	account, region := partition(ctx)
	ref, err := a.urlRef(ctx, in)
	if err != nil {
		return nil, err
	}
	now := a.now()
	u := &urlRecord{URLID: newURLID(), AuthType: in.AuthType, Cors: in.Cors, InvokeMode: in.InvokeMode, Created: now, LastModified: now}
	if u.InvokeMode == "" {
		u.InvokeMode = "BUFFERED"
	}
	_, err = a.modifyFunction(ctx, ref, func(_ store.Tx, f *functionRecord) error {
		if err := urlTarget(account, region, f, ref.Qualifier); err != nil {
			return err
		}
		if f.URLs[ref.Qualifier] != nil {
			return errConflict("Failed to create function url config for [functionArn = %s]. Error message:  FunctionUrlConfig exists for this Lambda function",
				qualifiedARN(account, region, f.Name, ref.Qualifier))
		}
		if f.URLs == nil {
			f.URLs = map[string]*urlRecord{}
		}
		f.URLs[ref.Qualifier] = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a.urlOutput(account, region, ref.Name, ref.Qualifier, u, false), nil
}

func errURLNotFound() error { return errNotFound("The resource you requested does not exist.") }

func (a *API) getURLConfig(ctx context.Context, in *urlConfigInput) (*urlConfigOutput, error) {
	account, region := partition(ctx)
	ref, err := a.urlRef(ctx, in)
	if err != nil {
		return nil, err
	}
	f, err := a.viewFunction(ctx, ref.Name)
	if err != nil {
		return nil, err
	}
	u := f.URLs[ref.Qualifier]
	if u == nil {
		return nil, errURLNotFound()
	}
	return a.urlOutput(account, region, f.Name, ref.Qualifier, u, true), nil
}

func (a *API) updateURLConfig(ctx context.Context, in *urlConfigInput) (*urlConfigOutput, error) {
	account, region := partition(ctx)
	ref, err := a.urlRef(ctx, in)
	if err != nil {
		return nil, err
	}
	var out *urlRecord
	_, err = a.modifyFunction(ctx, ref, func(_ store.Tx, f *functionRecord) error {
		u := f.URLs[ref.Qualifier]
		if u == nil {
			return errURLNotFound()
		}
		if in.AuthType != "" {
			u.AuthType = in.AuthType
		}
		if in.Cors != nil {
			u.Cors = in.Cors
		}
		if in.InvokeMode != "" {
			u.InvokeMode = in.InvokeMode
		}
		u.LastModified = a.now()
		out = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a.urlOutput(account, region, ref.Name, ref.Qualifier, out, true), nil
}

func (a *API) deleteURLConfig(ctx context.Context, in *urlConfigInput) (*struct{}, error) {
	ref, err := a.urlRef(ctx, in)
	if err != nil {
		return nil, err
	}
	_, err = a.modifyFunction(ctx, ref, func(_ store.Tx, f *functionRecord) error {
		if f.URLs[ref.Qualifier] == nil {
			return errURLNotFound()
		}
		delete(f.URLs, ref.Qualifier)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

type listURLConfigsInput struct {
	FunctionName string
	Marker       string
	MaxItems     *int
}

type listURLConfigsOutput struct {
	FunctionUrlConfigs []*urlConfigOutput
	NextMarker         string `json:",omitempty"`
}

func (a *API) listURLConfigs(ctx context.Context, in *listURLConfigsInput) (*listURLConfigsOutput, error) {
	account, region := partition(ctx)
	_, f, err := a.resolveRef(ctx, in.FunctionName, "")
	if err != nil {
		return nil, err
	}
	qs := make([]string, 0, len(f.URLs))
	for q := range f.URLs {
		qs = append(qs, q)
	}
	sort.Strings(qs)
	all := make([]*urlConfigOutput, len(qs))
	for i, q := range qs {
		all[i] = a.urlOutput(account, region, f.Name, q, f.URLs[q], true)
	}
	page, next, err := paginate(all, in.Marker, in.MaxItems, 50, func(c *urlConfigOutput) string { return c.FunctionArn })
	if err != nil {
		return nil, err
	}
	return &listURLConfigsOutput{FunctionUrlConfigs: page, NextMarker: next}, nil
}
