//! Batch sources: where the loop's batches come from. Arrays in memory (checked whole when
//! the source is made, kept on the device when they fit so a batch is a gather of rows), a
//! `SequenceDataset` (every batch checked before the first step, each padded to its own
//! longest sample), and a user's generator (each batch checked as it comes; shapes may change
//! from batch to batch).

use ndarray::ArrayViewD;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::arrays::XY;
use super::batch::{At, Batch, Checked, Spec, check, check_weights};
use crate::data::SequenceDataset;
use crate::device::Device;
use crate::error::Result;
use crate::ops::gather::gather_rows;
use crate::tensor::Tensor;

/// A stream of validated batches, epoch by epoch.
pub(crate) trait Source {
    /// Batches in `epoch`, when known.
    fn steps(&self, epoch: usize) -> Option<usize>;
    /// Batch `b` of `epoch` (asked in order), or `None` when the epoch's data is done.
    fn next(&mut self, epoch: usize, b: usize) -> Result<Option<Batch>>;
}

/// The sample order of epoch `epoch`: a function of the seed and the epoch alone, so a run
/// resumed at any epoch sees the batches an uninterrupted run would.
pub(crate) fn epoch_order(n: usize, shuffle: bool, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if shuffle {
        let mut rng =
            StdRng::seed_from_u64(seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        order.shuffle(&mut rng);
    }
    order
}

/// One stored array: on the device as `[N, per-sample]` rows, or on the host.
enum Stored {
    Resident { rows: Tensor, dims: Vec<usize> },
    Host(Checked),
}

impl Stored {
    fn batch(&self, device: &Device, idx: &[usize], ids: Option<&Tensor>) -> Result<Tensor> {
        match self {
            Stored::Resident { rows, dims } => {
                let ids = ids.expect("resident rows are gathered by index");
                let mut d = dims.clone();
                d[0] = idx.len();
                gather_rows(rows, ids)?.reshape(d)
            }
            Stored::Host(c) => c.rows(device, idx),
        }
    }
}

/// Resident data may take at most this much of the device (all arrays together).
const RESIDENT_BUDGET: u64 = 1 << 30;

/// Arrays in memory, checked whole.
pub(crate) struct ArraySource {
    device: Device,
    inputs: Vec<Stored>,
    targets: Vec<Stored>,
    weights: Option<Stored>,
    /// Whether the arrays live on the device.
    resident: bool,
    n: usize,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    order: Option<(usize, Vec<usize>)>,
}

impl ArraySource {
    /// Checks `xs` and `ys` (none for `predict`) against `spec`; batches of `batch_size`,
    /// shuffled each epoch with `seed` when `shuffle`.
    pub(crate) fn new(
        device: &Device,
        spec: &Spec,
        xs: &[ArrayViewD<'_, f32>],
        ys: Option<&[ArrayViewD<'_, f32>]>,
        validation: bool,
        (batch_size, shuffle, seed): (usize, bool, u64),
    ) -> Result<ArraySource> {
        let at = At {
            validation,
            batch: None,
            samples: None,
        };
        let (xs, ys, n) = check(spec, xs, ys, &at)?;
        let bytes: u64 = xs
            .iter()
            .map(|c| c.dims().iter().product::<usize>() as u64 * 4)
            .sum::<u64>()
            + ys.iter().map(|y| y.len() as u64 * 4).sum::<u64>();
        let fits = |each: usize| match device {
            Device::Cpu => true,
            Device::Gpu(ctx) => {
                each as u64 * 4 <= ctx.limits().max_storage_buffer_binding_size
                    && bytes <= RESIDENT_BUDGET
            }
        };
        // All on the device or all on the host: a batch is then one gather per array, or
        // uploads alone (token ids stay on the host, so their data set does too).
        let resident = xs
            .iter()
            .all(|c| matches!(c, Checked::Values(a) if fits(a.len())))
            && ys.iter().all(|y| fits(y.len()));
        let store = |c: Checked| -> Result<Stored> {
            match c {
                Checked::Values(a) if resident => {
                    let dims = a.shape().to_vec();
                    let per = a.len().checked_div(n).unwrap_or(0);
                    // The array moves into the tensor: on the CPU no second copy of the data.
                    Ok(Stored::Resident {
                        rows: Tensor::from_vec(device, [n, per], into_vec(a))?,
                        dims,
                    })
                }
                other => Ok(Stored::Host(other)),
            }
        };
        Ok(ArraySource {
            device: device.clone(),
            inputs: xs.into_iter().map(store).collect::<Result<_>>()?,
            targets: ys
                .into_iter()
                .map(|y| store(Checked::Values(y)))
                .collect::<Result<_>>()?,
            weights: None,
            resident,
            n,
            batch_size,
            shuffle,
            seed,
            order: None,
        })
    }

    /// Weighs each sample's loss and metrics by `w` (`[N]`, Keras's `sample_weight`),
    /// checked here.
    pub(crate) fn weighted(mut self, w: &ArrayViewD<'_, f32>, validation: bool) -> Result<Self> {
        let at = At {
            validation,
            batch: None,
            samples: None,
        };
        let w = check_weights(w, self.n, &at)?;
        self.weights = Some(if self.resident {
            Stored::Resident {
                rows: Tensor::from_vec(&self.device, [self.n, 1], w)?,
                dims: vec![self.n],
            }
        } else {
            Stored::Host(Checked::Values(ndarray::Array1::from(w).into_dyn()))
        });
        Ok(self)
    }

    pub(crate) fn len(&self) -> usize {
        self.n
    }
}

impl Source for ArraySource {
    fn steps(&self, _epoch: usize) -> Option<usize> {
        Some(self.n.div_ceil(self.batch_size))
    }

    fn next(&mut self, epoch: usize, b: usize) -> Result<Option<Batch>> {
        if self.order.as_ref().is_none_or(|(e, _)| *e != epoch) {
            self.order = Some((epoch, epoch_order(self.n, self.shuffle, self.seed, epoch)));
        }
        let order = &self.order.as_ref().expect("set above").1;
        let Some(idx) = order.chunks(self.batch_size).nth(b) else {
            return Ok(None);
        };
        let ids = self
            .resident
            .then(|| {
                Tensor::from_u32(
                    &self.device,
                    [idx.len()],
                    idx.iter().map(|&i| i as u32).collect(),
                )
            })
            .transpose()?;
        let take = |s: &Stored| s.batch(&self.device, idx, ids.as_ref());
        Ok(Some(Batch {
            inputs: self.inputs.iter().map(take).collect::<Result<_>>()?,
            targets: self.targets.iter().map(take).collect::<Result<_>>()?,
            samples: idx.to_vec(),
            weights: self.weights.as_ref().map(take).transpose()?,
        }))
    }
}

/// The array's values in row-major order, reusing its buffer when it already is row-major.
fn into_vec(a: ndarray::ArrayD<f32>) -> Vec<f32> {
    let a = if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    };
    let len = a.len();
    let (v, offset) = a.into_raw_vec_and_offset();
    let offset = offset.unwrap_or(0);
    if offset == 0 && v.len() == len {
        v
    } else {
        v[offset..offset + len].to_vec()
    }
}

/// A `SequenceDataset`'s batches (its own batch size, bucketing and shuffling), each padded
/// to its own longest sample.
pub(crate) struct DatasetSource<'d> {
    ds: std::borrow::Cow<'d, SequenceDataset>,
    spec: Spec,
    device: Device,
    validation: bool,
    batches: Option<(usize, Vec<Vec<usize>>)>,
    /// Whether batches carry targets (not for predicting on a dataset without them).
    targets: bool,
}

impl<'d> DatasetSource<'d> {
    /// Checks every batch of the dataset (errors name the batch and the sample's index in
    /// the dataset) before any is used.
    pub(crate) fn new(
        device: &Device,
        spec: &Spec,
        ds: std::borrow::Cow<'d, SequenceDataset>,
        validation: bool,
    ) -> Result<DatasetSource<'d>> {
        if !ds.has_targets() {
            return Err(crate::error::Error::Config(
                "the SequenceDataset has no targets (timeseries_dataset_from_array without \
                 targets): predict_dataset takes it; to fit or evaluate, give targets"
                    .into(),
            ));
        }
        Self::checked_whole(device, spec, ds, validation, true)
    }

    /// For `predict_dataset`: the inputs only, the targets (if any) unchecked.
    pub(crate) fn inputs_only(
        device: &Device,
        spec: &Spec,
        ds: std::borrow::Cow<'d, SequenceDataset>,
    ) -> Result<DatasetSource<'d>> {
        Self::checked_whole(device, spec, ds, false, false)
    }

    fn checked_whole(
        device: &Device,
        spec: &Spec,
        ds: std::borrow::Cow<'d, SequenceDataset>,
        validation: bool,
        targets: bool,
    ) -> Result<DatasetSource<'d>> {
        let batches = ds.batches(0);
        let source = DatasetSource {
            ds,
            spec: spec.clone(),
            device: device.clone(),
            validation,
            batches: None,
            targets,
        };
        for (b, idx) in batches.iter().enumerate() {
            source.checked(b, idx)?;
        }
        Ok(source)
    }

    fn checked(
        &self,
        b: usize,
        idx: &[usize],
    ) -> Result<(Vec<Checked>, Vec<ndarray::ArrayD<f32>>)> {
        let (x, y) = self.ds.padded_batch(idx);
        let at = At {
            validation: self.validation,
            batch: Some(b),
            samples: Some(idx),
        };
        let ys = [y.view()];
        let ys = self.targets.then_some(&ys[..]);
        let (xs, ys, _) = check(&self.spec, &[x.view()], ys, &at)?;
        Ok((xs, ys))
    }
}

impl Source for DatasetSource<'_> {
    fn steps(&self, epoch: usize) -> Option<usize> {
        Some(self.ds.batches(epoch).len())
    }

    fn next(&mut self, epoch: usize, b: usize) -> Result<Option<Batch>> {
        if self.batches.as_ref().is_none_or(|(e, _)| *e != epoch) {
            self.batches = Some((epoch, self.ds.batches(epoch)));
        }
        let Some(idx) = self.batches.as_ref().expect("set above").1.get(b).cloned() else {
            return Ok(None);
        };
        let (xs, ys) = self.checked(b, &idx)?;
        let all: Vec<usize> = (0..idx.len()).collect();
        Ok(Some(Batch {
            inputs: xs
                .iter()
                .map(|c| c.rows(&self.device, &all))
                .collect::<Result<_>>()?,
            targets: ys
                .iter()
                .map(|y| Tensor::from_array(&self.device, y))
                .collect::<Result<_>>()?,
            samples: idx,
            weights: None,
        }))
    }
}

/// A user's generator: called at the start of each epoch for that epoch's batches.
pub(crate) type MakeEpoch<'g> = Box<dyn FnMut(usize) -> Box<dyn Iterator<Item = XY> + 'g> + 'g>;

/// A generator's batches, each checked as it comes (a shape may change from batch to batch).
pub(crate) struct GeneratorSource<'g> {
    make: MakeEpoch<'g>,
    current: Option<(usize, Box<dyn Iterator<Item = XY> + 'g>)>,
    steps_per_epoch: Option<usize>,
    spec: Spec,
    device: Device,
    validation: bool,
}

impl<'g> GeneratorSource<'g> {
    pub(crate) fn new(
        device: &Device,
        spec: &Spec,
        make: MakeEpoch<'g>,
        steps_per_epoch: Option<usize>,
        validation: bool,
    ) -> Self {
        GeneratorSource {
            make,
            current: None,
            steps_per_epoch,
            spec: spec.clone(),
            device: device.clone(),
            validation,
        }
    }
}

impl Source for GeneratorSource<'_> {
    fn steps(&self, _epoch: usize) -> Option<usize> {
        self.steps_per_epoch
    }

    fn next(&mut self, epoch: usize, b: usize) -> Result<Option<Batch>> {
        if self.current.as_ref().is_none_or(|(e, _)| *e != epoch) {
            self.current = Some((epoch, (self.make)(epoch)));
        }
        let Some(xy) = self.current.as_mut().expect("set above").1.next() else {
            return Ok(None);
        };
        let at = At {
            validation: self.validation,
            batch: Some(b),
            samples: None,
        };
        let xs: Vec<ArrayViewD<'_, f32>> = xy.x.iter().map(|a| a.view()).collect();
        let ys: Vec<ArrayViewD<'_, f32>> = xy.y.iter().map(|a| a.view()).collect();
        let (xs, ys, n) = check(&self.spec, &xs, Some(&ys), &at)?;
        let weights =
            xy.w.as_ref()
                .map(|w| -> Result<Tensor> {
                    Tensor::from_vec(&self.device, [n], check_weights(&w.view(), n, &at)?)
                })
                .transpose()?;
        let all: Vec<usize> = (0..n).collect();
        Ok(Some(Batch {
            weights,
            inputs: xs
                .iter()
                .map(|c| c.rows(&self.device, &all))
                .collect::<Result<_>>()?,
            targets: ys
                .iter()
                .map(|y| Tensor::from_array(&self.device, y))
                .collect::<Result<_>>()?,
            samples: all,
        }))
    }
}
