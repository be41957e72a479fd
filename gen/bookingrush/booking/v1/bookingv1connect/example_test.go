package bookingv1connect_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"connectrpc.com/connect"

	bookingv1 "github.com/bookingrush/rush/gen/bookingrush/booking/v1"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
)

// How another team inside the mesh calls the booking service. gRPC needs
// HTTP/2; inside the mesh it runs without TLS (h2c), so the client's
// transport must allow unencrypted HTTP/2 (services/platform/server.NewClient
// builds exactly this client). With http.DefaultClient, which speaks
// HTTP/1.1 to http:// URLs, leave out connect.WithGRPC() to use the Connect
// protocol instead.
func ExampleNewBookingServiceClient() {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	httpClient := &http.Client{Transport: &http.Transport{Protocols: protocols}}

	client := bookingv1connect.NewBookingServiceClient(httpClient, "http://booking:9083", connect.WithGRPC())

	res, err := client.GetBooking(context.Background(), connect.NewRequest(&bookingv1.GetBookingRequest{
		BookingId: "5d0c8a4e-2f6b-4c1d-9e3a-7b8f0a1c2d3e",
	}))
	if err != nil {
		// Branch on the code, never on the message.
		if connect.CodeOf(err) == connect.CodeNotFound {
			log.Println("no such booking")
		}
		return
	}
	log.Println(res.Msg.GetBooking().GetStatus())
}

// bookingServer stands in for services/booking: it embeds the generated
// Unimplemented handler and overrides what it serves.
type bookingServer struct {
	bookingv1connect.UnimplementedBookingServiceHandler
}

func (bookingServer) GetBooking(
	_ context.Context,
	req *connect.Request[bookingv1.GetBookingRequest],
) (*connect.Response[bookingv1.GetBookingResponse], error) {
	return connect.NewResponse(&bookingv1.GetBookingResponse{Booking: &bookingv1.Booking{
		Id:          req.Msg.GetBookingId(),
		Quantity:    2,
		TotalAmount: "99.80",
		Status:      bookingv1.BookingStatus_BOOKING_STATUS_RESERVED,
	}}), nil
}

// One handler serves gRPC, gRPC-Web and Connect. Here a cleartext HTTP/2
// server answers the same RPC over gRPC (h2c client) and over Connect
// (http.DefaultClient, HTTP/1.1).
func Example_protocols() {
	mux := http.NewServeMux()
	mux.Handle(bookingv1connect.NewBookingServiceHandler(bookingServer{}))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()

	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	grpcClient := bookingv1connect.NewBookingServiceClient(
		&http.Client{Transport: &http.Transport{Protocols: h2c}}, srv.URL, connect.WithGRPC())
	connectClient := bookingv1connect.NewBookingServiceClient(http.DefaultClient, srv.URL)

	req := &bookingv1.GetBookingRequest{BookingId: "5d0c8a4e-2f6b-4c1d-9e3a-7b8f0a1c2d3e"}
	for _, c := range []struct {
		name   string
		client bookingv1connect.BookingServiceClient
	}{{"grpc", grpcClient}, {"connect", connectClient}} {
		res, err := c.client.GetBooking(context.Background(), connect.NewRequest(req))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(c.name, res.Msg.GetBooking().GetStatus(), res.Msg.GetBooking().GetTotalAmount())
	}

	// An RPC the server does not implement fails with a code, on any protocol.
	_, err := grpcClient.Reserve(context.Background(), connect.NewRequest(&bookingv1.ReserveRequest{}))
	fmt.Println(connect.CodeOf(err))
	// Output:
	// grpc BOOKING_STATUS_RESERVED 99.80
	// connect BOOKING_STATUS_RESERVED 99.80
	// unimplemented
}
