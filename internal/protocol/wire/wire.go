// Package wire holds what every protocol codec shares: the Codec contract
// the edge calls, and the conventions for the documents that pass between
// codecs and service handlers.
//
// A document is the decoded form of a request or response, shaped by the
// model:
//
//	structure -> map[string]any keyed by the model's member name
//	list      -> []any
//	map       -> map[string]any
//	string    -> string (enums too)
//	integer, long -> int64
//	float, double -> float64
//	boolean   -> bool
//	timestamp -> time.Time (UTC)
//	blob      -> []byte, or io.Reader for a streaming payload
//	document  -> any (decoded JSON)
//
// Decoders produce exactly these types and omit members absent from the
// wire. Encoders accept these types and are lenient with what handlers
// produce through encoding/json: member names matched ignoring case,
// json.Number or any Go integer/float for numbers, RFC 3339 strings for
// timestamps, base64 strings for blobs, nil values skipped.
//
// What every codec reads and checks the same way lives here too, so each
// rule is written once: the lenient readers of handler documents (Int64,
// Float64, Bool, Time, Text, Base64, Bytes, Items, Fields, IsNil,
// CanonicalMembers), the model's timestamp formats, and Violation, the
// enum, length and range constraints in AWS's wording; and the plumbing of
// an answer (AppendJSONString, JSONKind, BodyPool, WriteBody). They sit in
// wire rather than in a codec package because they follow from the
// document conventions above and from the model, not from any one protocol.
package wire

import (
	"net/http"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// Codec is one AWS protocol bound to one service model.
type Codec interface {
	// Resolve names the operation a request calls. body is the whole request
	// body for the query and json protocols; REST codecs resolve from the
	// method, path and query alone and ignore it (it may be nil). An unknown
	// operation is an *awserr.Error of kind UnknownOperation.
	Resolve(r *http.Request, body []byte) (*awsmodel.Operation, error)

	// Decode turns the request into the operation's input document,
	// validating types, required members, enums and ranges against the model
	// (errors are *awserr.Error of kind Validation or MissingParameter with a
	// message naming the member). When body is nil and the operation's input
	// has a streaming blob payload, the payload member is r.Body (io.Reader).
	Decode(r *http.Request, body []byte, op *awsmodel.Operation) (map[string]any, error)

	// Encode writes a successful response: status, headers and body.
	Encode(w http.ResponseWriter, op *awsmodel.Operation, out map[string]any, requestID string) error

	// EncodeError writes e (already resolved to a code and status) in the
	// protocol's error envelope.
	EncodeError(w http.ResponseWriter, op *awsmodel.Operation, e awserr.Error, requestID string)

	// Family is the error vocabulary of the service, for awserr.Resolve.
	Family() awserr.Family
}

// FamilyOf maps a model protocol name to an error family.
func FamilyOf(protocol string) awserr.Family {
	switch protocol {
	case "ec2":
		return awserr.FamilyEC2
	case "query":
		return awserr.FamilyQuery
	case "rest-xml":
		return awserr.FamilyS3
	}
	return awserr.FamilyJSON
}
