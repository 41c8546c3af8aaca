"""Face tracking: MediaPipe FaceMesh landmarks, head pose and mouth descriptors per frame.

    landmarks.py  FaceMesh wrapper, named landmark groups, choosing one face
    pose.py       canonical face frame, head pose (yaw/pitch/roll), similarity transforms
    smoothing.py  One-Euro filter over landmark tracks, jitter measure
    mouth.py      MouthShape descriptors (opening, width, rounding, teeth, jaw)
    tracking.py   track_image / track_video -> FaceFrame / FaceTrack; 422 when there is no usable face

Importing this package loads numpy only; MediaPipe and OpenCV load on first use.
"""

from digihuman.face.landmarks import MIN_FACE_PX, FaceBox, FaceMesh
from digihuman.face.mouth import MOUTH_DTYPE, MouthShape, mouth_shape
from digihuman.face.pose import HeadPose, estimate_pose, frontalise, rotation_from_angles, similarity_2d
from digihuman.face.smoothing import OneEuroFilter, OneEuroParams, jitter, smooth_track
from digihuman.face.tracking import (
    FaceFrame,
    FaceTrack,
    VideoFrame,
    read_frames,
    read_image,
    track_image,
    track_video,
)

__all__ = [
    "MIN_FACE_PX", "MOUTH_DTYPE", "FaceBox", "FaceFrame", "FaceMesh", "FaceTrack", "HeadPose", "MouthShape",
    "OneEuroFilter", "OneEuroParams", "VideoFrame", "estimate_pose", "frontalise", "jitter", "mouth_shape",
    "read_frames", "read_image", "rotation_from_angles", "similarity_2d", "smooth_track", "track_image",
    "track_video",
]
