package payment

// SetAfterKeyMiss makes Create call f after it found no payment of its
// Idempotency-Key, before it looks at the booking; nil removes it.
func SetAfterKeyMiss(f func(key string)) {
	if f == nil {
		afterKeyMiss.Store(nil)
		return
	}
	afterKeyMiss.Store(&f)
}
