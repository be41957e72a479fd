package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
)

// The ceiling servers answer the same calls as the system with no work at
// all, to measure what this machine (and this generator) can do: a bare
// net/http server answering a small JSON body, and a bare connect-go
// BookingService whose Reserve returns a constant. Each runs in a child
// process (this binary re-executed with -child), like the real services.

// ceilingBody is about the size of a real reserve answer's envelope.
var ceilingBody = []byte(`{"success":true,"data":{"id":"00000000-0000-0000-0000-000000000000","status":"reserved","quantity":1,"total_amount":"49.90","currency":"THB"}}`)

func serveCeilingHTTP(addr string) error {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(ceilingBody)
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	return srv.ListenAndServe()
}

type ceilingBooking struct {
	bookingv1connect.UnimplementedBookingServiceHandler
}

var constBooking = &bookingv1.Booking{
	Id: "00000000-0000-0000-0000-000000000000", Quantity: 1, TotalAmount: "49.90",
	Status: bookingv1.BookingStatus_BOOKING_STATUS_RESERVED, ExpiresAt: timestamppb.New(time.Unix(2000000000, 0)),
}

// Reserve answers a constant hold.
func (ceilingBooking) Reserve(context.Context, *connect.Request[bookingv1.ReserveRequest]) (*connect.Response[bookingv1.ReserveResponse], error) {
	return connect.NewResponse(&bookingv1.ReserveResponse{Booking: constBooking}), nil
}

func serveCeilingConnect(addr string) error {
	mux := http.NewServeMux()
	mux.Handle(bookingv1connect.NewBookingServiceHandler(ceilingBooking{}))
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Addr: addr, Handler: mux, Protocols: p, ReadHeaderTimeout: 5 * time.Second}
	return srv.ListenAndServe()
}

// child is a ceiling server process.
type child struct {
	kind, addr string
	cmd        *exec.Cmd
}

// startChild re-executes this binary as a server of kind (the ceiling's
// http or connect, the seed's kafka) on a free port, its output to
// logPath, and waits until it accepts connections.
func startChild(kind, logPath string) (*child, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-child="+kind, "-child-addr="+addr)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait(); _ = f.Close() }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return &child{kind: kind, addr: addr, cmd: cmd}, nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("%s server (child) did not listen on %s", kind, addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *child) stop() { _ = c.cmd.Process.Signal(syscall.SIGTERM) }
