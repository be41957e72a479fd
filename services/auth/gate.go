package auth

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	gatev1 "github.com/bookingrush/rush/gen/bookingrush/gate/v1"
	"github.com/bookingrush/rush/gen/bookingrush/gate/v1/gatev1connect"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/errs"
)

// Gate is what auth tells the gate, which owns the check-in devices: a
// user's role after a change or a deletion, inside its transaction, so a
// device works only while the user who registered it may run its events.
type Gate interface {
	// SetDeviceOwnerRole tells the gate userID's role now (as the system);
	// the gate revokes the user's devices the role may not run.
	SetDeviceOwnerRole(ctx context.Context, userID, role string) error
}

// NewGate returns Gate over the gate's client.
func NewGate(c gatev1connect.GateServiceClient) Gate { return gateClient{c} }

type gateClient struct {
	c gatev1connect.GateServiceClient
}

func (g gateClient) SetDeviceOwnerRole(ctx context.Context, userID, role string) error {
	_, err := g.c.SetDeviceOwnerRole(authn.AsSystem(ctx), connect.NewRequest(&gatev1.SetDeviceOwnerRoleRequest{UserId: userID, Role: role}))
	if err == nil {
		return nil
	}
	e := errs.FromConnect(err)
	if e.Code == errs.ServiceUnavailable || e.Code == errs.Internal {
		return errs.Unavailable("the gate could not revoke the user's check-in devices; nothing was changed, retry", errors.New(err.Error()), "dependency", "gate")
	}
	return e
}
