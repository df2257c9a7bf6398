package runner

import (
	"maps"
	"reflect"
	"sync"
	"unsafe"

	"github.com/zclconf/go-cty/cty"
	"github.com/zdplay/zdplay/tasks"
)

// templateData is what tasks see as Env.Vars (a template's data): the
// variables and a frame's locals in Go form. Converting them is linear in
// their size, so it is done once per locals map instead of once per task
// (an unused 4000-element variable made every task of a 4000-item loop
// convert it): the variables once per run, a role's or include's locals
// once, from their parent's plus what their vars add.
//
// Locals maps are never changed once built (withVars copies), so a map's
// identity names its content; an entry holds its map, so that identity is
// not reused while cached.
type templateData struct {
	mu      sync.Mutex
	vars    map[string]cty.Value
	entries map[unsafe.Pointer]*localsEntry
}

type localsEntry struct {
	locals    map[string]cty.Value
	parent    map[string]cty.Value // the map withVars started from, if any
	overrides []string             // the keys withVars set
	data      map[string]any       // vars and locals in Go form, once computed
}

// maxTemplateEntries bounds the cache: past it, it starts over (entries are
// rebuilt from their maps on use, which is only slower).
const maxTemplateEntries = 4096

func mapID(m map[string]cty.Value) unsafe.Pointer { return reflect.ValueOf(m).UnsafePointer() }

// derived records that child is parent plus keys (what withVars set).
func (c *templateData) derived(child, parent map[string]cty.Value, keys []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.makeRoom()
	c.entries[mapID(child)] = &localsEntry{locals: child, parent: parent, overrides: keys}
}

func (c *templateData) makeRoom() {
	if c.entries == nil || len(c.entries) >= maxTemplateEntries {
		c.entries = map[unsafe.Pointer]*localsEntry{}
	}
}

// forLocals returns the Go form of the variables and locals, a map of the
// caller's own (its values are shared: read them only).
func (c *templateData) forLocals(locals map[string]cty.Value) map[string]any {
	if c == nil {
		c = &templateData{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.compute(locals))
}

func (c *templateData) compute(locals map[string]cty.Value) map[string]any {
	id := mapID(locals)
	e := c.entries[id]
	if e == nil || locals == nil {
		c.makeRoom()
		e = &localsEntry{locals: locals}
		if locals != nil {
			c.entries[id] = e
		}
	}
	if e.data != nil {
		return e.data
	}
	if e.parent != nil && c.entries[mapID(e.parent)] != nil {
		e.data = maps.Clone(c.compute(e.parent))
		for _, k := range e.overrides {
			e.data[k] = tasks.GoValue(locals[k])
		}
		return e.data
	}
	e.data = make(map[string]any, len(c.vars)+len(locals))
	for k, v := range c.vars {
		e.data[k] = tasks.GoValue(v)
	}
	for k, v := range locals {
		e.data[k] = tasks.GoValue(v)
	}
	return e.data
}
