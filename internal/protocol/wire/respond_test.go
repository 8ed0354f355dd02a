package wire

import (
	"net/http/httptest"
	"testing"
)

func TestWriteBody(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Amzn-ErrorType", "ThrottlingException")
	if err := WriteBody(rec, 400, "application/x-amz-json-1.1", "req-1", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	h := rec.Result().Header
	if rec.Code != 400 || rec.Body.String() != `{"a":1}` || h.Get("Content-Type") != "application/x-amz-json-1.1" ||
		h.Get("Content-Length") != "7" || h.Get("X-Amzn-Requestid") != "req-1" || h.Get("X-Amzn-ErrorType") != "ThrottlingException" {
		t.Fatalf("wrote %d %v %q", rec.Code, h, rec.Body.String())
	}
}
