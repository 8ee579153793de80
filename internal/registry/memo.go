package registry

import "sync"

// memo computes a value once per key and keeps it; failures are forgotten
// so the next call tries again. Safe for concurrent use.
type memo[V any] struct{ entries sync.Map }

type memoEntry[V any] struct {
	once  sync.Once
	value V
	err   error
}

func (m *memo[V]) get(key string, compute func() (V, error)) (V, error) {
	v, _ := m.entries.LoadOrStore(key, &memoEntry[V]{})
	e := v.(*memoEntry[V])
	e.once.Do(func() { e.value, e.err = compute() })
	if e.err != nil {
		m.entries.CompareAndDelete(key, e)
	}
	return e.value, e.err
}
