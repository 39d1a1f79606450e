import GraphvizBridge
import DOTFormat
for text in ["digraph g { a -> b [op=] }", "digraph g {\n a -> b [op=] }", "digraph g {\n a -> b\n b [op=] }", "digraph g {\n a -> b\n b [op=\n}", "digraph g {\n a -> b\n\n\n 1a -> c\n}", "digraph g {\n a -> b\n\n\n \"x\n"] {
    let r = DOTReader.read(bytes: Array(text.utf8), file: "t.dot")
    print(text.debugDescription, r.findings.map(\.formatted))
}
