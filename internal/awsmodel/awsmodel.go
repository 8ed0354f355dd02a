// Package awsmodel loads the AWS API models (the api-2.json documents that
// aws-sdk-go ships) embedded in the binary, and resolves them into shapes the
// protocol codecs walk. The models are the source of truth for every request
// and response shape nimbus speaks; see docs/PROTOCOLS.md.
package awsmodel

//go:generate go run ./gen

import (
	"compress/gzip"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

//go:embed models/*.json.gz
var modelFS embed.FS

// Metadata is a model's "metadata" block.
type Metadata struct {
	APIVersion       string `json:"apiVersion"`
	EndpointPrefix   string `json:"endpointPrefix"`
	Protocol         string `json:"protocol"` // ec2, query, json, rest-json, rest-xml
	ServiceID        string `json:"serviceId"`
	ServiceFullName  string `json:"serviceFullName"`
	SigningName      string `json:"signingName"`
	TargetPrefix     string `json:"targetPrefix"`
	JSONVersion      string `json:"jsonVersion"`
	XMLNamespace     string `json:"xmlNamespace"`
	UID              string `json:"uid"`
	SignatureVersion string `json:"signatureVersion"`
}

// HTTP is an operation's REST binding.
type HTTP struct {
	Method       string `json:"method"`
	RequestURI   string `json:"requestUri"`
	ResponseCode int    `json:"responseCode"`
}

// XMLNamespace decorates XML members.
type XMLNamespace struct {
	Prefix string `json:"prefix"`
	URI    string `json:"uri"`
}

// Ref is a reference to a shape with the binding traits of its position:
// a structure member, a list member, a map key or value, or an operation's
// input or output.
type Ref struct {
	ShapeName        string        `json:"shape"`
	Location         string        `json:"location"` // uri, querystring, header, headers, statusCode, "" for body
	LocationName     string        `json:"locationName"`
	QueryName        string        `json:"queryName"`
	Flattened        bool          `json:"flattened"`
	XMLAttribute     bool          `json:"xmlAttribute"`
	XMLNamespace     *XMLNamespace `json:"xmlNamespace"`
	IdempotencyToken bool          `json:"idempotencyToken"`
	JSONValue        bool          `json:"jsonvalue"`
	TimestampFormat  string        `json:"timestampFormat"`
	ResultWrapper    string        `json:"resultWrapper"`
	HostLabel        bool          `json:"hostLabel"`
	EventPayload     bool          `json:"eventpayload"`
	Streaming        bool          `json:"streaming"` // S3 marks streaming payloads on the member

	Shape *Shape `json:"-"`
}

// ErrorInfo is an exception shape's wire code and status.
type ErrorInfo struct {
	Code           string `json:"code"`
	HTTPStatusCode int    `json:"httpStatusCode"`
	SenderFault    bool   `json:"senderFault"`
}

// Shape is a named type in a model.
type Shape struct {
	Name            string
	Type            string          `json:"type"` // structure, list, map, string, integer, long, float, double, boolean, timestamp, blob
	Required        []string        `json:"required"`
	Members         map[string]*Ref `json:"members"`
	MemberOrder     []string        `json:"memberOrder"` // model order of Members (added by gen)
	Member          *Ref            `json:"member"`
	Key             *Ref            `json:"key"`
	Value           *Ref            `json:"value"`
	Payload         string          `json:"payload"`
	LocationName    string          `json:"locationName"`
	XMLNamespace    *XMLNamespace   `json:"xmlNamespace"`
	Flattened       bool            `json:"flattened"`
	TimestampFormat string          `json:"timestampFormat"`
	Streaming       bool            `json:"streaming"`
	Enum            []string        `json:"enum"`
	Min             *float64        `json:"min"`
	Max             *float64        `json:"max"`
	Pattern         string          `json:"pattern"`
	Exception       bool            `json:"exception"`
	Fault           bool            `json:"fault"`
	Error           *ErrorInfo      `json:"error"`
	Event           bool            `json:"event"`
	EventStream     bool            `json:"eventstream"`
	Document        bool            `json:"document"`
	Union           bool            `json:"union"`
	Sensitive       bool            `json:"sensitive"`

	required map[string]bool
	lower    map[string]string // lower-case member name -> member name
}

// IsRequired reports whether member m of a structure is required.
func (s *Shape) IsRequired(m string) bool { return s.required[m] }

// MemberFold finds a member by name, exactly or ignoring case.
func (s *Shape) MemberFold(name string) (string, *Ref, bool) {
	if r, ok := s.Members[name]; ok {
		return name, r, true
	}
	if n, ok := s.lower[strings.ToLower(name)]; ok {
		return n, s.Members[n], true
	}
	return "", nil, false
}

// Operation is one API operation.
type Operation struct {
	Name   string `json:"name"`
	HTTP   HTTP   `json:"http"`
	Input  *Ref   `json:"input"`
	Output *Ref   `json:"output"`
	Errors []*Ref `json:"errors"`
}

// StreamingInput reports whether the operation's input payload is a
// streaming blob (S3 PutObject, UploadPart), which the edge must not buffer.
func (o *Operation) StreamingInput() bool {
	if o.Input == nil || o.Input.Shape == nil || o.Input.Shape.Payload == "" {
		return false
	}
	m := o.Input.Shape.Members[o.Input.Shape.Payload]
	return m != nil && m.Shape != nil && m.Shape.Type == "blob" && (m.Streaming || m.Shape.Streaming)
}

// Service is one resolved model.
type Service struct {
	Key        string // nimbus's name for it: ec2, sts, iam, logs, lambda, batch, s3, ce
	Metadata   Metadata
	Operations map[string]*Operation
	Shapes     map[string]*Shape
}

// SigningName is the name SigV4 credential scopes carry for this service.
func (s *Service) SigningName() string { return s.Metadata.Signing() }

// Signing is the name SigV4 credential scopes carry for the service.
func (m Metadata) Signing() string {
	if m.SigningName != "" {
		return m.SigningName
	}
	return m.EndpointPrefix
}

// LoadMetadata reads only a model's metadata block, which the generator puts
// first, so routing can be set up without parsing a whole model.
func LoadMetadata(key string) (Metadata, error) {
	var md Metadata
	f, err := modelFS.Open("models/" + key + ".json.gz")
	if err != nil {
		return md, fmt.Errorf("no model for service %q", key)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return md, fmt.Errorf("model %s: %w", key, err)
	}
	dec := json.NewDecoder(zr)
	if _, err := dec.Token(); err != nil {
		return md, fmt.Errorf("model %s: %w", key, err)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return md, fmt.Errorf("model %s: %w", key, err)
		}
		if t == "metadata" {
			if err := dec.Decode(&md); err != nil {
				return md, fmt.Errorf("model %s: %w", key, err)
			}
			return md, nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return md, fmt.Errorf("model %s: %w", key, err)
		}
	}
	return md, fmt.Errorf("model %s: no metadata", key)
}

// OperationNames lists operations in name order.
func (s *Service) OperationNames() []string {
	names := make([]string, 0, len(s.Operations))
	for n := range s.Operations {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Keys lists the services whose models are embedded.
func Keys() []string {
	entries, _ := modelFS.ReadDir("models")
	var keys []string
	for _, e := range entries {
		keys = append(keys, strings.TrimSuffix(e.Name(), ".json.gz"))
	}
	return keys
}

var (
	mu     sync.Mutex
	loaded = map[string]*Service{}
)

// Load returns the resolved model of a service, parsing it on first use so
// that an idle nimbus holds only the models it has been asked for.
func Load(key string) (*Service, error) {
	mu.Lock()
	defer mu.Unlock()
	if s, ok := loaded[key]; ok {
		return s, nil
	}
	f, err := modelFS.Open("models/" + key + ".json.gz")
	if err != nil {
		return nil, fmt.Errorf("no model for service %q", key)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", key, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", key, err)
	}
	s, err := parse(key, raw)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", key, err)
	}
	loaded[key] = s
	return s, nil
}

// MustLoad is Load for models known to be embedded.
func MustLoad(key string) *Service {
	s, err := Load(key)
	if err != nil {
		panic(err)
	}
	return s
}

func parse(key string, raw []byte) (*Service, error) {
	var doc struct {
		Metadata   Metadata                   `json:"metadata"`
		Operations map[string]*Operation      `json:"operations"`
		Shapes     map[string]json.RawMessage `json:"shapes"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	s := &Service{Key: key, Metadata: doc.Metadata, Operations: doc.Operations, Shapes: make(map[string]*Shape, len(doc.Shapes))}
	for name, rawShape := range doc.Shapes {
		sh := &Shape{Name: name}
		if err := json.Unmarshal(rawShape, sh); err != nil {
			return nil, fmt.Errorf("shape %s: %w", name, err)
		}
		if sh.Type == "structure" {
			sh.required = make(map[string]bool, len(sh.Required))
			for _, r := range sh.Required {
				sh.required[r] = true
			}
			sh.lower = make(map[string]string, len(sh.Members))
			for m := range sh.Members {
				sh.lower[strings.ToLower(m)] = m
			}
		}
		s.Shapes[name] = sh
	}
	resolve := func(r *Ref) error {
		if r == nil {
			return nil
		}
		sh, ok := s.Shapes[r.ShapeName]
		if !ok {
			return fmt.Errorf("unknown shape %q", r.ShapeName)
		}
		r.Shape = sh
		return nil
	}
	for _, sh := range s.Shapes {
		for _, r := range sh.Members {
			if err := resolve(r); err != nil {
				return nil, err
			}
		}
		for _, r := range []*Ref{sh.Member, sh.Key, sh.Value} {
			if err := resolve(r); err != nil {
				return nil, err
			}
		}
	}
	for name, op := range s.Operations {
		if op.Name == "" {
			op.Name = name
		}
		for _, r := range append([]*Ref{op.Input, op.Output}, op.Errors...) {
			if err := resolve(r); err != nil {
				return nil, fmt.Errorf("operation %s: %w", name, err)
			}
		}
	}
	return s, nil
}
