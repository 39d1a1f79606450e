import Testing

@testable import DeployCommands

@Suite struct MarkdownTests {
    @Test(arguments: ["helix-dense-2l", "L0.attn_allreduce.hg0", "tp_pp", "seq_len/5", "B*2048", "8 experts (top-2), TP 8 x PP 2"])
    func ordinaryTextIsUnchanged(text: String) {
        #expect(Markdown.code(text) == "`\(text)`")
        if !text.contains("*") { #expect(Markdown.text(text) == text) }
    }

    @Test func activeCharactersAreEscaped() {
        #expect(Markdown.text("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;")
        #expect(Markdown.text("a|b`c*d[e](f)_g_ & \\") == "a\\|b\\`c\\*d\\[e\\](f)\\_g\\_ &amp; \\\\")
        #expect(Markdown.text("x\u{1B}[2J\n") == "x\\x1b\\[2J\\x0a")
    }

    @Test func codeSpansOutfenceTheirBackticks() {
        #expect(Markdown.code("a`b|c") == "``a`b\\|c``")
        #expect(Markdown.code("a`b|c", inTable: false) == "``a`b|c``")
        #expect(Markdown.code("`x``") == "``` `x`` ```")
        #expect(Markdown.code("<script>") == "`<script>`")
    }
}
