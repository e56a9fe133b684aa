//! The pending command encoder, with one compute pass kept open across consecutive
//! dispatches.
//!
//! Opening a pass per dispatch cost host time on every op; consecutive dispatches now share
//! one (wgpu still orders each dispatch's reads after the writes before it: every dispatch is
//! its own usage scope). A pass locks its encoder, so anything else recorded into the encoder
//! goes through [`Recorder::encoder`], which ends the open pass first, and the encoder is
//! submitted through [`Recorder::finish`]:
//!
//! - a copy (a readback's) into the pending work: `recorder.encoder().copy_buffer_to_buffer(..)`;
//! - a submit: `queue.submit([recorder.finish()])`.

/// The pending encoder and its open compute pass, if any.
pub(crate) struct Recorder {
    // Declared first, so dropped before the encoder it was opened on.
    pass: Option<wgpu::ComputePass<'static>>,
    encoder: wgpu::CommandEncoder,
}

impl Recorder {
    pub(crate) fn new(device: &wgpu::Device) -> Recorder {
        Recorder {
            pass: None,
            encoder: device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("wgfit"),
            }),
        }
    }

    /// The open compute pass, opened now if none is.
    pub(crate) fn pass(&mut self) -> &mut wgpu::ComputePass<'static> {
        self.pass.get_or_insert_with(|| {
            // The encoder stays locked (wgpu refuses other commands on it) while the pass
            // lives, lifetime or not; `encoder` and `finish` end the pass before using it.
            self.encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("wgfit"),
                    timestamp_writes: None,
                })
                .forget_lifetime()
        })
    }

    /// Ends the open pass, if any.
    pub(crate) fn end_pass(&mut self) {
        self.pass = None;
    }

    /// Whether a compute pass is open (for tests).
    #[cfg(test)]
    pub(crate) fn pass_open(&self) -> bool {
        self.pass.is_some()
    }

    /// The encoder, for commands outside a compute pass (copies): the open pass ends first.
    pub(crate) fn encoder(&mut self) -> &mut wgpu::CommandEncoder {
        self.end_pass();
        &mut self.encoder
    }

    /// Ends the open pass and finishes the encoder, for submission.
    pub(crate) fn finish(mut self) -> wgpu::CommandBuffer {
        self.end_pass();
        self.encoder.finish()
    }
}
