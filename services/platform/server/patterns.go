package server

import (
	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ruleStringPattern is protovalidate's rule id of string.pattern.
const ruleStringPattern = "string.pattern"

// PatternMessages say in words what each string.pattern of the contracts
// accepts. protovalidate's own message quotes the regular expression
// ("does not match regex pattern `^[0-9]{1,7}(\.[0-9]{1,2})?$`"), which
// tells a developer and nobody else what to send. The violation keeps its
// rule id (string.pattern); only its message changes. A pattern missing
// here keeps protovalidate's message, and gen/bookingrush's
// TestEveryPatternHasWords fails until it has its words.
var PatternMessages = map[string]string{
	`^[a-z0-9]+(-[a-z0-9]+)*$`:                            "must be lowercase letters and digits, in words joined by single hyphens (e.g. summer-nights-2027)",
	`^([a-z0-9]+(-[a-z0-9]+)*)?$`:                         "must be empty, or lowercase letters and digits in words joined by single hyphens (e.g. concerts)",
	`^(https://.+)?$`:                                     "must be an https:// address, or empty",
	`^[0-9]{1,7}(\.[0-9]{1,2})?$`:                         "must be an amount with at most 7 digits before the point and 2 after it, without a currency sign (e.g. 49.90)",
	`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`: "must be a date written YYYY-MM-DD (e.g. 2027-06-12)",
	`^[A-Za-z][A-Za-z0-9_+/-]*$`:                          "must be an IANA time zone name (e.g. Europe/Lisbon)",
	idempotencyKeyPattern:                                 "must be 8 to 128 letters, digits, _ or - (a UUID will do)",
	`^[A-Za-z0-9_-]+$`:                                    "must be the ticket the queue gave, unchanged (letters, digits, _ and -)",
	`^[\x21-\x7E]+$`:                                      "must be the pass the queue gave, unchanged (printable ASCII, no spaces)",
	`^(sim_ok|sim_declined|sim_slow|card|pm_[A-Za-z0-9_]{1,250})$`: "must be card or a Stripe payment method id (pm_...), or with the payment simulator sim_ok, sim_declined or sim_slow",
	`^[a-z][a-z0-9_.]{0,99}$`:                                      "must be an audit action (e.g. event.publish): a lowercase letter, then up to 99 lowercase letters, digits, _ or .",
	`^[a-z][a-z0-9_]{0,49}$`:                                       "must be an entity type (e.g. event): a lowercase letter, then up to 49 lowercase letters, digits or _",
	`^[a-z][a-z0-9_]{0,63}$`:                                       "must be a lowercase letter, then up to 63 lowercase letters, digits or _ (e.g. event_title)",
}

// sayPatterns gives the pattern violations of ve their words.
func sayPatterns(ve *protovalidate.ValidationError) {
	for _, v := range ve.Violations {
		if v.Proto.GetRuleId() != ruleStringPattern {
			continue
		}
		if msg, ok := PatternMessages[v.RuleValue.String()]; ok {
			v.Proto.Message = proto.String(msg)
		}
	}
}

// CrossFieldRules name the field each message-level rule of the contracts
// is about. Such a rule compares two fields (a range's start and end), and
// protovalidate gives its violation no field: the API would then name none,
// and a form could not point at it. The field named is the end of the range,
// which the rule's message compares with the start ("must be after
// sale_start_at"), as the services' own checks of the same ranges do; a
// rule that makes a field required unless another is given names the
// required one. TestEveryMessageRuleHasAField keeps the table whole.
var CrossFieldRules = map[string]string{
	"create_event.sale_window":        "sale_end_at",
	"update_event.sale_window":        "sale_end_at",
	"create_show.ends_at":             "ends_at",
	"list_audit_logs.time_range":      "to",
	"date_range.order":                "to",
	"list_payments.status_or_booking": "status",
}

// placeCrossField gives the message-level violations of ve the field
// CrossFieldRules names, a field of msg.
func placeCrossField(msg protoreflect.Message, ve *protovalidate.ValidationError) {
	for _, v := range ve.Violations {
		name, ok := CrossFieldRules[v.Proto.GetRuleId()]
		if !ok || len(v.Proto.GetField().GetElements()) > 0 {
			continue
		}
		if fd := msg.Descriptor().Fields().ByName(protoreflect.Name(name)); fd != nil {
			v.FieldDescriptor = fd
			v.Proto.Field = validate.FieldPath_builder{Elements: fieldPath([]step{{fd: fd, index: -1}})}.Build()
		}
	}
}
