package image

import "errors"

// Sentinel errors; callers test them with errors.Is and the layers above map
// them to AWS codes at the edge.
var (
	// ErrNotFound: no image has that name or digest.
	ErrNotFound = errors.New("image not found")
	// ErrAmbiguous: a digest prefix matches more than one image.
	ErrAmbiguous = errors.New("image reference is ambiguous")
	// ErrUnsafeLayer: a layer tries to write outside the root (path traversal)
	// or is otherwise malformed; the image is refused.
	ErrUnsafeLayer = errors.New("unsafe layer")
	// ErrInvalidReference: a name, tag or digest that cannot be parsed.
	ErrInvalidReference = errors.New("invalid image reference")
	// ErrMissingTool: a host program the operation needs is not installed.
	ErrMissingTool = errors.New("required host tool is missing")
)
