package runner

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// goroutinePanic carries a panic out of the goroutines of a parallel block
// to the goroutine that waits for them, so that the CLI's recover sees it
// (and exits 3, "internal error") instead of the runtime's exit 2.
type goroutinePanic struct {
	once  sync.Once
	value any
	stack []byte
}

// catch is deferred in each goroutine.
func (p *goroutinePanic) catch() {
	if v := recover(); v != nil {
		p.once.Do(func() { p.value, p.stack = v, debug.Stack() })
	}
}

// rethrow panics again, with the goroutine's stack, if one panicked.
func (p *goroutinePanic) rethrow() {
	if p.value != nil {
		panic(fmt.Sprintf("%v\n\ngoroutine of a parallel block:\n%s", p.value, p.stack))
	}
}
