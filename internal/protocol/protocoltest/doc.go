// Package protocoltest serves AWS clients' requests in memory through a
// wire.Codec, as the edge does, so the codecs' tests can let the real Go SDK
// and the AWS CLI serialize requests and deserialize answers. It is for
// tests only; nothing in production imports it.
package protocoltest
