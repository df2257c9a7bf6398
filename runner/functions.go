package runner

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions are the functions playbook expressions may call: HCL's standard
// library under the names Terraform and Packer users already know.
var functions = map[string]function.Function{
	"abs":           stdlib.AbsoluteFunc,
	"abspath":       absPathFunc,
	"basename":      pathFunc(filepath.Base),
	"dirname":       pathFunc(filepath.Dir),
	"can":           tryfunc.CanFunc,
	"ceil":          stdlib.CeilFunc,
	"chomp":         stdlib.ChompFunc,
	"chunklist":     stdlib.ChunklistFunc,
	"coalesce":      stdlib.CoalesceFunc,
	"coalescelist":  stdlib.CoalesceListFunc,
	"compact":       stdlib.CompactFunc,
	"concat":        stdlib.ConcatFunc,
	"contains":      stdlib.ContainsFunc,
	"distinct":      stdlib.DistinctFunc,
	"file":          fileFunc,
	"fileexists":    fileExistsFunc,
	"element":       stdlib.ElementFunc,
	"flatten":       stdlib.FlattenFunc,
	"floor":         stdlib.FloorFunc,
	"format":        stdlib.FormatFunc,
	"formatlist":    stdlib.FormatListFunc,
	"indent":        stdlib.IndentFunc,
	"index":         stdlib.IndexFunc,
	"join":          stdlib.JoinFunc,
	"jsondecode":    stdlib.JSONDecodeFunc,
	"jsonencode":    stdlib.JSONEncodeFunc,
	"keys":          stdlib.KeysFunc,
	"length":        stdlib.LengthFunc,
	"lookup":        stdlib.LookupFunc,
	"lower":         stdlib.LowerFunc,
	"max":           stdlib.MaxFunc,
	"merge":         stdlib.MergeFunc,
	"min":           stdlib.MinFunc,
	"parseint":      stdlib.ParseIntFunc,
	"range":         stdlib.RangeFunc,
	"regex":         stdlib.RegexFunc,
	"regexall":      stdlib.RegexAllFunc,
	"regex_replace": stdlib.RegexReplaceFunc,
	"replace":       stdlib.ReplaceFunc,
	"reverse":       stdlib.ReverseListFunc,
	"setunion":      stdlib.SetUnionFunc,
	"slice":         stdlib.SliceFunc,
	"sort":          stdlib.SortFunc,
	"split":         stdlib.SplitFunc,
	"strlen":        stdlib.StrlenFunc,
	"substr":        stdlib.SubstrFunc,
	"title":         stdlib.TitleFunc,
	"tolist":        stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tomap":         stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	"tonumber":      stdlib.MakeToFunc(cty.Number),
	"toset":         stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"tostring":      stdlib.MakeToFunc(cty.String),
	"trim":          stdlib.TrimFunc,
	"trimprefix":    stdlib.TrimPrefixFunc,
	"trimspace":     stdlib.TrimSpaceFunc,
	"trimsuffix":    stdlib.TrimSuffixFunc,
	"try":           tryfunc.TryFunc,
	"upper":         stdlib.UpperFunc,
	"values":        stdlib.ValuesFunc,
	"zipmap":        stdlib.ZipmapFunc,
}

// absPathFunc makes a path absolute against the directory zdplay runs in.
var absPathFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		p, err := filepath.Abs(args[0].AsString())
		return cty.StringVal(p), err
	},
})

// pathFunc makes a function of one path, e.g. basename and dirname.
func pathFunc(fn func(string) string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(fn(args[0].AsString())), nil
		},
	})
}

// fileFunc reads a file, e.g. the release a previous run recorded.
var fileFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		b, err := readFileCapped(args[0].AsString(), maxFileFuncSize)
		return cty.StringVal(string(b)), err
	},
})

// maxFileFuncSize bounds what file() reads: it is for small state files.
const maxFileFuncSize = 16 << 20

// readFileCapped reads a regular file of at most max bytes: a FIFO, a
// device (/dev/zero) or a larger file is an error, never a hang.
func readFileCapped(path string, max int64) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s): file() reads only regular files", path, info.Mode().Type())
	}
	if info.Size() > max {
		return nil, fmt.Errorf("%s is %d bytes, more than file() reads (%d MiB)", path, info.Size(), max>>20)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(b)) > max {
		err = fmt.Errorf("%s grew past %d MiB while file() read it", path, max>>20)
	}
	return b, err
}

// fileExistsFunc reports whether a regular file exists.
var fileExistsFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		info, err := os.Stat(args[0].AsString())
		return cty.BoolVal(err == nil && info.Mode().IsRegular()), nil
	},
})
