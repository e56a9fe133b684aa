//! The README's Quick start compiles as written: its block is `examples/readme_quick_start.rs`
//! character for character (the test suite builds every example), and this test fails when
//! the two drift apart.

/// The first ```` ```rust ```` block after `## Quick start`.
fn quick_start_block(readme: &str) -> Option<&str> {
    let section = &readme[readme.find("## Quick start")?..];
    let start = section.find("```rust\n")? + "```rust\n".len();
    let len = section[start..].find("```\n")?;
    Some(&section[start..start + len])
}

#[test]
fn the_readme_s_quick_start_is_the_example_the_suite_compiles() {
    let readme = include_str!("../README.md");
    let example = include_str!("../examples/readme_quick_start.rs");
    let block = quick_start_block(readme).expect("the README has a Quick start rust block");
    assert!(block.contains("fn main()"), "a whole program: {block}");
    assert_eq!(
        block, example,
        "README's Quick start and examples/readme_quick_start.rs differ: copy one to the other"
    );
}
