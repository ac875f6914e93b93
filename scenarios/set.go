package scenarios

import (
	"errors"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// An override ("--set key=value") replaces or adds one value in the
// scenario's YAML tree before it is decoded, so it is checked exactly like
// the file:
//
//   - key is a dotted path into mappings: nodes.count, network.loss,
//     network.latency.model, seed. Missing mappings on the way are created.
//     A path cannot go through a list or a scalar.
//   - A bare key that is not a top-level key but a protocol key means
//     protocol.KEY: gossip_fanout=8 is protocol.gossip_fanout=8.
//   - value is parsed as YAML, so 1%, 20ms, [0, 1], {model: constant,
//     value: 20ms} and an empty value (null: the key's default) all work.
//
// Errors in an override's value name it: "--set nodes.count=abc:
// nodes.count: expected an integer, got "abc"". Values the override did not
// touch are re-checked against it, so --set nodes.count=100 on a file with
// the node range 500-999 reports that range at its line and column.

// applySets applies the overrides to root, in order.
func (d *decoder) applySets(root *yaml.Node, sets []string) error {
	if len(sets) == 0 {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return d.errAt(root, "", "a scenario must be a mapping (name:, duration:, nodes:, ...), got %s", describe(root))
	}
	for _, set := range sets {
		if err := d.applySet(root, set); err != nil {
			return err
		}
	}
	return nil
}

// setErr is an error about the override itself (not its value).
func (d *decoder) setErr(set, path, format string, args ...any) *Error {
	e := d.errAt(nil, path, format, args...)
	e.Set = set
	return e
}

func (d *decoder) applySet(root *yaml.Node, set string) error {
	key, value, ok := strings.Cut(set, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return d.setErr(set, "", "want key=value, e.g. nodes.count=100")
	}
	path := strings.Split(key, ".")
	for _, seg := range path {
		if seg == "" {
			return d.setErr(set, "", "empty name in key %q; write dotted names such as network.latency.model", key)
		}
	}
	if len(path) == 1 && !slices.Contains(topKeys, key) {
		if !slices.Contains(protocolKeys, key) {
			return d.setErr(set, "", "unknown key %q%s (a bare key is a top-level or protocol key)",
				key, suggest(key, append(slices.Clone(topKeys), protocolKeys...)))
		}
		path = []string{"protocol", key}
	}

	// The value: one YAML node, every part of it marked as from this set.
	var val *yaml.Node
	if strings.TrimSpace(value) == "" {
		val = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}
	} else {
		var doc yaml.Node
		if err := yaml.Load([]byte(value), &doc); err != nil {
			msg := err.Error()
			var le *yaml.LoadError
			if errors.As(err, &le) {
				msg = strings.TrimPrefix(le.Message, "yaml: ")
			}
			return d.setErr(set, key, "value is not valid YAML: %s", msg)
		}
		val = &doc
		if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
			val = doc.Content[0]
		}
	}
	if err := d.checkTree(val, set); err != nil {
		return err
	}

	cur := root
	for i, seg := range path {
		last := i == len(path)-1
		k := -1
		for j := 0; j+1 < len(cur.Content); j += 2 {
			if c := cur.Content[j]; c.Kind == yaml.ScalarNode && c.Value == seg {
				k = j
				break
			}
		}
		if last {
			if k >= 0 {
				cur.Content[k+1] = val
			} else {
				kn := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: seg}
				d.origin[kn] = set
				cur.Content = append(cur.Content, kn, val)
			}
			return nil
		}
		var next *yaml.Node
		switch {
		case k < 0:
			kn := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: seg}
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			d.origin[kn], d.origin[next] = set, set
			cur.Content = append(cur.Content, kn, next)
		case cur.Content[k+1].Kind == yaml.MappingNode:
			next = cur.Content[k+1]
		case cur.Content[k+1].Kind == yaml.ScalarNode && cur.Content[k+1].ShortTag() == "!!null":
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: cur.Content[k+1].Line, Column: cur.Content[k+1].Column}
			d.origin[next] = set
			cur.Content[k+1] = next
		default:
			at := strings.Join(path[:i+1], ".")
			return d.setErr(set, key, "%s is %s, not a mapping; --set can only reach into mappings", at, describe(cur.Content[k+1]))
		}
		cur = next
	}
	return nil
}
