package server

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// EnumWord is an enum value's name in the public JSON API, the edge's
// (edge/json.go): lower case, without its type's prefix ("published" for
// EVENT_STATUS_PUBLISHED). Error details and labels that name an enum value
// use it, so a client reads one name for a value wherever it appears. An
// unknown number is written as a number.
func EnumWord(e protoreflect.Enum) string {
	v := e.Descriptor().Values().ByNumber(e.Number())
	if v == nil {
		return strconv.Itoa(int(e.Number()))
	}
	return EnumValueWord(v)
}

// EnumValueWord is EnumWord of a value's descriptor.
func EnumValueWord(v protoreflect.EnumValueDescriptor) string {
	prefix := upperSnake(string(v.Parent().Name())) + "_"
	return strings.ToLower(strings.TrimPrefix(string(v.Name()), prefix))
}

// upperSnake turns a CamelCase enum name into the UPPER_SNAKE prefix buf lint
// demands of its values ("BookingStatus" -> "BOOKING_STATUS").
func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			prev := rune(s[i-1])
			nextLower := i+1 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z'
			if (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9') || (prev >= 'A' && prev <= 'Z' && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}
