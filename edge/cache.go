package edge

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// PublicCacheConfig is how long shared caches (a CDN in front of the edge)
// may keep the public catalog reads, so that the event page's rush is
// served at the edge of the network instead of by the catalog.
type PublicCacheConfig struct {
	// MaxAge is the freshness of events and categories.
	MaxAge time.Duration `yaml:"max_age"`
	// AvailabilityMaxAge is the freshness of shows and zones, which carry
	// the seats left and change with every hold during a sale.
	AvailabilityMaxAge time.Duration `yaml:"availability_max_age"`
}

// RegisterFlags registers edge.public-cache.* flags.
func (c *PublicCacheConfig) RegisterFlags(f *flag.FlagSet) {
	f.DurationVar(&c.MaxAge, "edge.public-cache.max-age", 10*time.Second, "Cache-Control max-age of anonymous GETs of events and categories (0: no-store)")
	f.DurationVar(&c.AvailabilityMaxAge, "edge.public-cache.availability-max-age", time.Second, "Cache-Control max-age of anonymous GETs of shows and zones (the seats left) and waiting-room lines (0: no-store)")
}

// Validate checks the durations.
func (c *PublicCacheConfig) Validate() error {
	if c.MaxAge < 0 || c.AvailabilityMaxAge < 0 || c.MaxAge%time.Second != 0 || c.AvailabilityMaxAge%time.Second != 0 {
		return errors.New("edge.public-cache.*: max-ages are whole seconds, 0 or more")
	}
	return nil
}

// publicRoutes are the reads every anonymous caller gets the same answer
// to, by procedure: true when the answer changes by the second (seats left,
// a waiting room's line), false for the catalog's slower ones.
var publicRoutes = map[string]bool{
	"/bookingrush.queue.v1.QueueService/GetLine":            true,
	"/bookingrush.catalog.v1.CatalogService/ListEvents":     false,
	"/bookingrush.catalog.v1.CatalogService/GetEvent":       false,
	"/bookingrush.catalog.v1.CatalogService/ListCategories": false,
	"/bookingrush.catalog.v1.CatalogService/ListShows":      true,
	"/bookingrush.catalog.v1.CatalogService/ListZones":      true,
	// An event's ticket keys: a rotation that drops a key reaches caches
	// within the availability max-age.
	"/bookingrush.gate.v1.GateService/GetTicketKeys": true,
}

// cacheControl returns the Cache-Control of a public read of procedure,
// "" when it is not one or its max-age is 0.
func (c *PublicCacheConfig) cacheControl(procedure string) string {
	availability, ok := publicRoutes[procedure]
	if !ok {
		return ""
	}
	age := c.MaxAge
	if availability {
		age = c.AvailabilityMaxAge
	}
	if age <= 0 {
		return ""
	}
	return "public, max-age=" + strconv.Itoa(int(age/time.Second))
}

// etag is a strong validator of an answer's bytes: it changes exactly when
// the answer does, so a change to the catalog is seen by every cache at its
// next revalidation, with no purge to send.
func etag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// notModified reports whether the request's If-None-Match names tag.
func notModified(r *http.Request, tag string) bool {
	for _, v := range r.Header.Values("If-None-Match") {
		for t := range strings.SplitSeq(v, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == tag || t == "*" {
				return true
			}
		}
	}
	return false
}
