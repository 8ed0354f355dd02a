package edge

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/credentials"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/sigv4"
)

// Authenticate verifies the SigV4 signature of a request that a host
// route serves (a Lambda function URL of AuthType AWS_IAM) and returns who
// signed it. The body is read for the signature and put back for the
// handler. Errors are sigv4 errors (render them with sigv4.AWSError) or
// an *awserr.Error.
func (s *Server) Authenticate(r *http.Request) (*identity.Principal, error) {
	auth, err := sigv4.Parse(r)
	if err != nil {
		return nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if s.opts.AnyAuth {
		return rootPrincipal(s.opts.Account, auth.AccessKey), nil
	}
	cred, err := s.opts.Credentials.Lookup(r.Context(), auth.AccessKey)
	switch {
	case errors.Is(err, credentials.ErrExpiredToken):
		return nil, sigv4.ErrExpiredToken
	case errors.Is(err, credentials.ErrUnknownKey) || errors.Is(err, credentials.ErrInactiveKey):
		return nil, sigv4.ErrUnknownAccessKey
	case err != nil:
		return nil, awserr.Internalf(err, "look up access key")
	}
	if body == nil {
		body = []byte{}
	}
	if err := s.verifier.Verify(r, auth, cred.Secret, body); err != nil {
		return nil, err
	}
	if cred.SessionToken != "" && cred.SessionToken != auth.SessionToken {
		return nil, sigv4.ErrInvalidToken
	}
	return cred.Principal, nil
}
