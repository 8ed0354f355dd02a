package lambdart

// Runtime API paths and headers (2018-06-01).
const (
	apiVersion     = "2018-06-01"
	pathInvocation = "/" + apiVersion + "/runtime/invocation/"
	pathNext       = pathInvocation + "next"
	pathInitError  = "/" + apiVersion + "/runtime/init/error"

	HeaderRequestID          = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMs         = "Lambda-Runtime-Deadline-Ms"
	HeaderInvokedFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID            = "Lambda-Runtime-Trace-Id"
	HeaderClientContext      = "Lambda-Runtime-Client-Context"
	HeaderCognitoIdentity    = "Lambda-Runtime-Cognito-Identity"
	HeaderTenantID           = "Lambda-Runtime-Aws-Tenant-Id"
	HeaderFunctionErrorType  = "Lambda-Runtime-Function-Error-Type"
	// HeaderFunctionErrorBody is a trailer: aws-lambda-go sends the error
	// (base64 JSON) this way when its response stream fails midway.
	HeaderFunctionErrorBody = "Lambda-Runtime-Function-Error-Body"
)
