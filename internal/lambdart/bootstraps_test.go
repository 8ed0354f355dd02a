package lambdart

import "testing"

func TestPreloadsAndStartupVariables(t *testing.T) {
	py := Runtime{Name: "python3.11", Family: FamilyPython, Interpreter: "/usr/bin/python3"}
	node := Runtime{Name: "nodejs20.x", Family: FamilyNodeJS, Interpreter: "/usr/bin/node"}
	provided := Runtime{Name: "provided.al2023", Family: FamilyProvided}
	ruby := Runtime{Name: "ruby3.3", Family: FamilyRuby, Interpreter: "/usr/bin/ruby3.1"}
	java := Runtime{Name: "java17", Family: FamilyJava, Interpreter: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"}
	if !py.Preloads() || !node.Preloads() || provided.Preloads() || !ruby.Preloads() || java.Preloads() {
		t.Errorf("Preloads: python %v, node %v, provided %v, ruby %v, java %v; want true, true, false, true, false",
			py.Preloads(), node.Preloads(), provided.Preloads(), ruby.Preloads(), java.Preloads())
	}
	cases := []struct {
		rt   Runtime
		key  string
		want bool
	}{
		{py, "PYTHONPATH", true},
		{py, "PYTHONWARNINGS", true},
		{py, "NODE_OPTIONS", false},
		{node, "NODE_OPTIONS", true},
		{node, "UV_THREADPOOL_SIZE", true},
		{node, "PYTHONPATH", false},
		{py, "LD_LIBRARY_PATH", true},
		{node, "LD_PRELOAD", true},
		{py, "LANG", true},
		{py, "LC_ALL", true},
		{node, "TZ", true},
		{py, "AWS_LAMBDA_EXEC_WRAPPER", true},
		{py, "MY_VAR", false},
		{node, "AWS_REGION", false},
		{ruby, "RUBYOPT", true},
		{ruby, "RUBY_GC_HEAP_INIT_SLOTS", true},
		{ruby, "GEM_PATH", false},
		{ruby, "NODE_OPTIONS", false},
		{java, "JAVA_TOOL_OPTIONS", true},
		{java, "_JAVA_OPTIONS", true},
		{java, "RUBYOPT", false},
	}
	for _, c := range cases {
		if got := c.rt.ReadsAtStartup(c.key); got != c.want {
			t.Errorf("%s ReadsAtStartup(%s) = %v; want %v", c.rt.Name, c.key, got, c.want)
		}
	}
}
