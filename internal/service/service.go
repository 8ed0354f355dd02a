// Package service is how an AWS service package plugs into the edge: it names
// its model, and registers a handler per operation. Handlers are thin (decode,
// authorize, validate, write desired state, return) and never start a
// process; controllers do that.
package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"sync"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Handler serves one operation: it receives the decoded input document (see
// package wire for its conventions) and returns an output document or a
// value that encodes to one through encoding/json.
type Handler func(ctx context.Context, in map[string]any) (any, error)

// Resetter is implemented by services that hold state or sandboxes, so
// /_nimbus/reset can return the host to a clean slate.
type Resetter interface {
	Reset(ctx context.Context) error
}

// Service is one AWS service's model and handlers. The model is parsed on
// first use (EC2's takes a noticeable part of a second), so nimbus starts
// answering at once and an idle nimbus holds only the models it was asked for.
type Service struct {
	key      string
	meta     awsmodel.Metadata
	once     sync.Once
	model    *awsmodel.Service
	handlers map[string]Handler
	resetter func(ctx context.Context) error
}

// New returns an empty service for a model key (ec2, sts, iam, ...).
func New(key string) (*Service, error) {
	md, err := awsmodel.LoadMetadata(key)
	if err != nil {
		return nil, err
	}
	return &Service{key: key, meta: md, handlers: map[string]Handler{}}, nil
}

// Key is nimbus's name for the service: ec2, sts, iam, lambda, ...
func (s *Service) Key() string { return s.key }

// Metadata is the model's metadata block (protocol, signing name, ...).
func (s *Service) Metadata() awsmodel.Metadata { return s.meta }

// Model returns the service's parsed model.
func (s *Service) Model() *awsmodel.Service {
	s.once.Do(func() { s.model = awsmodel.MustLoad(s.key) })
	return s.model
}

// Handle registers h for an operation. Check verifies the names against the
// model; every service's tests call it.
func (s *Service) Handle(op string, h Handler) { s.handlers[op] = h }

// Check reports handlers registered for operations the model lacks: a
// wiring bug that would leave the handler unreachable.
func (s *Service) Check() error {
	m := s.Model()
	for op := range s.handlers {
		if _, ok := m.Operations[op]; !ok {
			return fmt.Errorf("service %s: model has no operation %q", s.key, op)
		}
	}
	return nil
}

// OnReset registers what /_nimbus/reset does for this service.
func (s *Service) OnReset(fn func(ctx context.Context) error) { s.resetter = fn }

// Reset runs the registered reset, if any.
func (s *Service) Reset(ctx context.Context) error {
	if s.resetter == nil {
		return nil
	}
	return s.resetter(ctx)
}

// Handler returns the handler of an operation, if implemented.
func (s *Service) Handler(op string) (Handler, bool) {
	h, ok := s.handlers[op]
	return h, ok
}

// Implemented lists the operations with handlers, sorted.
func (s *Service) Implemented() []string {
	names := make([]string, 0, len(s.handlers))
	for n := range s.handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Op adapts a typed function to a Handler. In's exported fields are filled
// from the input document by member name, as encoding/json would fill them
// from the document's JSON (names match without regard to case, so Go field
// InstanceIds takes member InstanceIds and Batch's jobQueue alike), by
// reflection where that gives the same result, else through JSON; Out is
// encoded the same way.
func Op[In, Out any](fn func(ctx context.Context, in *In) (*Out, error)) Handler {
	return func(ctx context.Context, doc map[string]any) (any, error) {
		in := new(In)
		if len(doc) > 0 && !fromDocument(reflect.ValueOf(in).Elem(), doc) {
			// The document holds something only encoding/json itself
			// decodes exactly: start afresh through the round trip.
			in = new(In)
			raw, err := json.Marshal(doc)
			if err != nil {
				return nil, awserr.Internalf(err, "encode input")
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			if err := dec.Decode(in); err != nil {
				return nil, awserr.Validationf("invalid input: %v", err)
			}
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// ToDocument converts a handler's result into an output document.
func ToDocument(v any) (map[string]any, error) {
	switch d := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return d, nil
	}
	switch d := toDocumentValue(reflect.ValueOf(v)).(type) {
	case map[string]any:
		return d, nil
	case nil:
		return map[string]any{}, nil
	}
	return nil, fmt.Errorf("encode output: %T is not a structure", v)
}

// DeleteKinds removes every object of the given kinds in every account and
// region: a service's part of /_nimbus/reset.
func DeleteKinds(ctx context.Context, st store.Store, kinds ...string) error {
	return st.Update(ctx, func(tx store.Tx) error {
		for _, kind := range kinds {
			var keys []store.Key
			err := tx.List(store.Query{Kind: kind, AllAccounts: true, AllRegions: true}, func(o store.Object) error {
				keys = append(keys, o.Key)
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := tx.Delete(k, 0); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
