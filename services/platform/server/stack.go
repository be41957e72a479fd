package server

import "net/http"

// growStack gives an HTTP/2 request's goroutine, at once, the stack its
// handler will need. net/http serves each HTTP/2 stream on a new goroutine,
// whose stack starts small and doubles as the call goes deeper (the
// interceptors, decoding, protovalidate's checks): each doubling copies every
// frame already on the stack, three times a Reserve, 10% of booking's CPU
// under ghz (bench/RESULTS.md). One large frame at the top, where the stack is
// still shallow, makes the runtime grow it once and cheaply (CockroachDB's
// growstack does the same for its RPCs). An HTTP/1 request runs on its
// connection's goroutine, whose stack stays grown after the first; the calls
// of a batch run on batch.go's long-lived workers, for the same reason.
func growStack(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			grow(0)
		}
		h.ServeHTTP(w, r)
	})
}

// stackFrame is grow's frame: the stack then holds at least twice as much
// (it grows by doubling), 32 KiB, what a Reserve call reaches.
const stackFrame = 16 << 10

// grow takes a frame of stackFrame bytes (the index keeps the compiler from
// dropping it).
//
//go:noinline
func grow(i int) byte {
	var frame [stackFrame]byte
	frame[i%stackFrame] = 1
	return frame[(i+1)%stackFrame]
}
