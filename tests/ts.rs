//! The `.ts` reader: the shipped Japanese Vowels files, univariate and unequal-length series,
//! labels by `@classLabel`'s order, and errors that name the file and line.

use wgfit::Error;
use wgfit::io::{parse_ts, read_ts};

fn problem(r: wgfit::Result<wgfit::io::TsData>) -> String {
    match r {
        Err(Error::File { path, problem, .. }) => format!("{}: {problem}", path.display()),
        other => panic!("expected a file error, got {other:?}"),
    }
}

#[test]
fn japanese_vowels_reads_as_the_archive_describes_it() -> wgfit::Result<()> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data");
    let train = read_ts(format!("{dir}/JapaneseVowels_TRAIN.ts"))?;
    let test = read_ts(format!("{dir}/JapaneseVowels_TEST.ts"))?;
    // 9 speakers x 30 utterances for training, 370 for testing, 12 coefficients, 7-29 steps.
    assert_eq!((train.series.len(), test.series.len()), (270, 370));
    assert_eq!(train.meta.dimensions, 12);
    assert!(!train.meta.equal_length && !train.meta.univariate);
    assert_eq!(train.meta.problem_name.as_deref(), Some("JapaneseVowels"));
    assert_eq!(
        train.classes,
        (1..=9).map(|c| c.to_string()).collect::<Vec<_>>()
    );
    let lengths = train.series.iter().map(|s| s.nrows());
    assert_eq!((lengths.clone().min(), lengths.max()), (Some(7), Some(26)));
    assert!(train.series.iter().all(|s| s.ncols() == 12));
    // The training file lists the speakers in order, 30 each.
    assert_eq!(train.labels[..30], [0; 30]);
    assert_eq!(train.labels[240..], [8; 30]);
    // The first value of the file's first series.
    assert_eq!(train.series[0][[0, 0]], 1.860936);
    Ok(())
}

#[test]
fn univariate_unequal_series_come_in_as_t_by_1() -> wgfit::Result<()> {
    let text = "# a comment\n@problemName Gestures\n@univariate true\n@equalLength false\n\
                @missing true\n@classLabel true 3 1 2\n@data\n0.5,1,1.5:1\n2,?,3,4,5:3\n";
    let ts = parse_ts(text, "g.ts")?;
    assert_eq!(ts.series[0].dim(), (3, 1));
    assert_eq!(ts.series[1].dim(), (5, 1));
    assert_eq!(ts.series[0].column(0).to_vec(), vec![0.5, 1.0, 1.5]);
    assert!(ts.series[1][[1, 0]].is_nan(), "? is missing: NaN");
    assert_eq!(ts.labels, vec![1, 0]); // "1" is second in the list, "3" first
    assert!(ts.meta.univariate && ts.meta.missing);
    // Without class labels the last field is data.
    let ts = parse_ts("@classLabel false\n@data\n1,2:3,4\n", "r.ts")?;
    assert_eq!(ts.series[0].dim(), (2, 2));
    assert!(ts.labels.is_empty());
    Ok(())
}

#[test]
fn bad_files_are_errors_naming_the_file_and_line() {
    let bad = [
        ("1,2:a\n", "line 1: data before @data"),
        (
            "@classLabel true a\n@data\n1,2:b\n",
            "line 3: label \"b\" is not in",
        ),
        (
            "@dimensions 2\n@data\n1,2\n",
            "line 3: 1 dimensions where 2",
        ),
        (
            "@data\n1,2:3\n",
            "dimension 1 has 1 values where dimension 0 has 2",
        ),
        ("@data\n1,x,2\n", "line 2: \"x\" is not a number"),
        ("@timeStamps true\n@data\n(0,1)\n", "line 1: time-stamped"),
        ("@data\n", "no series"),
        ("@seriesLength ten\n", "@serieslength wants a whole number"),
    ];
    for (text, want) in bad {
        let message = problem(parse_ts(text, "bad.ts"));
        assert!(message.starts_with("bad.ts: "), "{message}");
        assert!(message.contains(want), "{text:?}: {message}");
    }
    let message = problem(read_ts("/no/such/dir/x.ts"));
    assert!(message.contains("/no/such/dir/x.ts"), "{message}");
}
