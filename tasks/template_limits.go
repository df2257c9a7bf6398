package tasks

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// templateMaxSize caps what the template kind reads and writes: a template
// source, the text it renders, and any string one of its functions returns.
// Playbook templates are kilobytes; a runaway loop or
// `{{ repeat 1000000000 "x" }}` fails at once, naming the limit, instead of
// eating the machine's memory.
const templateMaxSize = 64 << 20 // 64 MiB

// errTemplateTooBig is what a template's writer returns past the limit,
// which aborts text/template's execution.
var errTemplateTooBig = errors.New("over the size limit")

// limitedBuffer collects a rendering and refuses to grow past max bytes.
type limitedBuffer struct {
	max int
	buf []byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if len(b.buf)+len(p) > b.max {
		return 0, errTemplateTooBig
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// sizeMiB prints a limit: "64 MiB", or bytes below one MiB.
func sizeMiB(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.Itoa(n>>20) + " MiB"
	}
	return strconv.Itoa(n) + " bytes"
}

// templateFuncs is sprig's function map (and text/template's print
// family) bounded by limit: a function whose arguments ask for more than
// limit bytes (repeat, indent, printf's width, until's length, ...) fails
// before it allocates, and any function whose string result is over the
// limit fails too, so that a loop doubling a string stops at twice the
// limit. One map per limit, built once.
func templateFuncs(limit int) template.FuncMap {
	if m, ok := boundedFuncs.Load(limit); ok {
		return m.(template.FuncMap)
	}
	m := template.FuncMap{}
	for name, fn := range sprig.TxtFuncMap() {
		m[name] = resultChecked(name, fn, limit)
	}
	m["print"] = resultChecked("print", fmt.Sprint, limit)
	m["println"] = resultChecked("println", fmt.Sprintln, limit)
	m["printf"] = resultChecked("printf", func(format string, args ...any) (string, error) {
		if err := checkFormatWidths(format, args, limit); err != nil {
			return "", err
		}
		return fmt.Sprintf(format, args...), nil
	}, limit)
	sized := func(name string, size func(args []reflect.Value) float64) {
		inner := reflect.ValueOf(m[name])
		m[name] = reflect.MakeFunc(inner.Type(), func(args []reflect.Value) []reflect.Value {
			if n := size(args); n > float64(limit) {
				panic(fmt.Errorf("%s would make %.0f bytes: over the %s limit of a template", name, n, sizeMiB(limit)))
			}
			if inner.Type().IsVariadic() {
				return inner.CallSlice(args)
			}
			return inner.Call(args)
		}).Interface()
	}
	str := func(v reflect.Value) float64 {
		if v.Kind() == reflect.String {
			return float64(v.Len())
		}
		return float64(len(fmt.Sprint(v.Interface())))
	}
	num := func(v reflect.Value) float64 { return math.Abs(float64(v.Int())) }
	sized("repeat", func(a []reflect.Value) float64 { return num(a[0]) * str(a[1]) })
	for _, name := range []string{"indent", "nindent"} {
		sized(name, func(a []reflect.Value) float64 {
			return num(a[0])*float64(strings.Count(a[1].String(), "\n")+1) + str(a[1])
		})
	}
	for _, name := range []string{"randAlphaNum", "randAlpha", "randAscii", "randNumeric", "randBytes"} {
		sized(name, func(a []reflect.Value) float64 { return 2 * num(a[0]) })
	}
	sized("until", func(a []reflect.Value) float64 { return 8 * num(a[0]) })
	sized("untilStep", func(a []reflect.Value) float64 { return 8 * steps(a[0].Int(), a[1].Int(), a[2].Int()) })
	sized("seq", func(a []reflect.Value) float64 {
		p := a[0].Interface().([]int)
		switch len(p) {
		case 1:
			return 21 * math.Abs(float64(p[0]))
		case 2:
			return 21 * steps(int64(p[0]), int64(p[1]), 1)
		case 3:
			return 21 * steps(int64(p[0]), int64(p[2]), int64(p[1]))
		}
		return 0
	})
	sized("replace", func(a []reflect.Value) float64 {
		old, repl, src := a[0].String(), a[1].String(), a[2].String()
		if old == "" {
			return float64(len(src)+1) * float64(len(repl)+1)
		}
		return float64(len(src)) + float64(strings.Count(src, old))*float64(len(repl))
	})
	sized("join", func(a []reflect.Value) float64 {
		n := 0
		if v := reflect.ValueOf(a[1].Interface()); v.Kind() == reflect.Slice || v.Kind() == reflect.Array {
			n = v.Len()
		}
		return float64(n) * str(a[0])
	})
	actual, _ := boundedFuncs.LoadOrStore(limit, m)
	return actual.(template.FuncMap)
}

var boundedFuncs sync.Map // limit -> template.FuncMap

// steps counts the values from start towards stop by step.
func steps(start, stop, step int64) float64 {
	if step == 0 {
		return 0
	}
	return math.Abs((float64(stop) - float64(start)) / float64(step))
}

// formatWidth finds the widths and precisions in a printf format.
var formatWidth = regexp.MustCompile(`%[-+# 0]*(\d+|\*)?(?:\.(\d+|\*))?`)

// checkFormatWidths refuses a printf whose width or precision (given or
// from a * argument) is over limit: fmt would pad to it.
func checkFormatWidths(format string, args []any, limit int) error {
	for _, m := range formatWidth.FindAllStringSubmatch(format, -1) {
		for _, w := range m[1:] {
			n := 0
			switch w {
			case "":
			case "*":
				for _, a := range args {
					if i, ok := a.(int); ok && (i > n || -i > n) {
						n = max(i, -i)
					}
				}
			default:
				if len(w) > 9 {
					n = math.MaxInt32
				} else {
					n, _ = strconv.Atoi(w)
				}
			}
			if n > limit {
				return fmt.Errorf("printf: width %s is over the %s limit of a template", w, sizeMiB(limit))
			}
		}
	}
	return nil
}

// resultChecked wraps a template function so that a string result over
// limit fails the rendering (after the call: the functions that could make
// one all at once are checked before it, see templateFuncs).
func resultChecked(name string, fn any, limit int) any {
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func {
		return fn
	}
	returnsString := false
	for i := range t.NumOut() {
		returnsString = returnsString || t.Out(i).Kind() == reflect.String
	}
	if !returnsString {
		return fn
	}
	return reflect.MakeFunc(t, func(args []reflect.Value) []reflect.Value {
		var out []reflect.Value
		if t.IsVariadic() {
			out = v.CallSlice(args)
		} else {
			out = v.Call(args)
		}
		for _, o := range out {
			if o.Kind() == reflect.String && o.Len() > limit {
				panic(fmt.Errorf("%s made %d bytes: over the %s limit of a template", name, o.Len(), sizeMiB(limit)))
			}
		}
		return out
	}).Interface()
}
