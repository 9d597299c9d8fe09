package observed_test

import (
	"io"

	dnstap "github.com/dnstap/golang-dnstap"
	framestream "github.com/farsightsec/golang-framestream"
)

// newFrameWriter speaks Frame Streams to the collector as CoreDNS does.
func newFrameWriter(conn io.ReadWriter) (*framestream.Writer, error) {
	return framestream.NewWriter(conn, &framestream.WriterOptions{ContentTypes: [][]byte{dnstap.FSContentType}, Bidirectional: true})
}
